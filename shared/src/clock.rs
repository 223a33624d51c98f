//! Time as the product sees it. In AWS that is the system clock; locally a [`DevClock`] lets a
//! person fast-forward to see reminders fire.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The system clock plus an offset that only grows: time keeps flowing, and can be advanced.
#[derive(Debug, Default)]
pub struct DevClock {
    offset_ms: AtomicI64,
}

impl DevClock {
    pub fn new(offset: Duration) -> Self {
        Self {
            offset_ms: AtomicI64::new(offset.num_milliseconds()),
        }
    }

    pub fn advance(&self, by: Duration) {
        self.offset_ms
            .fetch_add(by.num_milliseconds(), Ordering::SeqCst);
    }

    pub fn offset(&self) -> Duration {
        Duration::milliseconds(self.offset_ms.load(Ordering::SeqCst))
    }
}

impl Clock for DevClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.offset()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_clock_moves_forward_by_what_was_advanced() {
        let clock = DevClock::default();
        let before = clock.now();
        clock.advance(Duration::hours(24));
        let after = clock.now();
        assert!(after - before >= Duration::hours(24));
        assert!(after - before < Duration::hours(24) + Duration::seconds(5));
    }
}
