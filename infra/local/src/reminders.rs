//! The local stand-ins for the DynamoDB stream consumer and EventBridge Scheduler: one worker that
//! reads the embedded store's change feed into `appointment-events` and fires due reminders into
//! `send-reminder` — the same side-effect code the Lambda functions run. It wakes every second,
//! after every API write, and when the dev clock is advanced; everything it has not handled yet
//! is in the database, so a restart loses nothing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::Duration;
use medichain::adapters::embedded::EmbeddedStore;
use medichain::side_effects::send_reminder::GATE_LEASE;
use medichain::side_effects::{
    handle_change, send_reminder, EffectDeps, EffectError, ReminderOutcome,
};
use tokio::sync::Mutex;

/// After this many failed attempts a change or a reminder is given up (and logged), as the stream
/// and the scheduler's retry policy do before the dead-letter queue.
const MAX_ATTEMPTS: u32 = 5;
const BATCH: u32 = 50;
const TICK: StdDuration = StdDuration::from_secs(1);

pub struct LocalWorker {
    store: EmbeddedStore,
    deps: EffectDeps,
    /// One pass at a time: the background tick, an API write and a clock advance never handle the
    /// same change or reminder at once.
    running: Mutex<()>,
    /// How many passes have begun; read by [`LocalWorker::catch_up`] to tell whether a pass
    /// began after a caller's write.
    passes_begun: AtomicU64,
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PassReport {
    pub changes: u32,
    pub reminders: u32,
}

impl LocalWorker {
    pub fn new(store: EmbeddedStore, deps: EffectDeps) -> Self {
        Self {
            store,
            deps,
            running: Mutex::new(()),
            passes_begun: AtomicU64::new(0),
        }
    }

    /// Handles every pending change, then every reminder due now, then the changes those made —
    /// until nothing is left that can be done now.
    pub async fn run_until_idle(&self) -> PassReport {
        let _pass = self.running.lock().await;
        self.pass().await
    }

    /// Returns once a pass that began after this call has ended, so what the caller wrote
    /// before calling has been handled. Callers that queue up behind a running pass share the
    /// next one instead of each running its own: under a booking load every request waits here,
    /// and one pass per request, each ending with empty reads of the feed and the schedules,
    /// made the worker the local server's bottleneck.
    pub async fn catch_up(&self) {
        let seen = self.passes_begun.load(Ordering::SeqCst);
        let _pass = self.running.lock().await;
        if self.passes_begun.load(Ordering::SeqCst) > seen {
            // A pass began after the caller's write and, as the lock is ours now, has ended.
            return;
        }
        self.pass().await;
    }

    /// One pass; the caller holds `running`.
    async fn pass(&self) -> PassReport {
        self.passes_begun.fetch_add(1, Ordering::SeqCst);
        let mut report = PassReport::default();
        loop {
            let changes = self.drain_changes().await;
            let reminders = self.fire_due_reminders().await;
            report.changes += changes;
            report.reminders += reminders;
            if changes == 0 && reminders == 0 {
                return report;
            }
        }
    }

    /// Runs a pass every second until the task is dropped.
    pub async fn run_forever(self: Arc<Self>) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.run_until_idle().await;
        }
    }

    /// Handles changes in order; stops at the first that fails (it is retried on the next pass,
    /// as a stream shard retries its oldest record) unless it has failed too often. The handled
    /// changes of a batch are acknowledged together, before a failed one is counted: a crash in
    /// between handles them again, which the side effects allow (they are idempotent, as for
    /// the stream's at-least-once delivery).
    async fn drain_changes(&self) -> u32 {
        let mut handled = 0;
        loop {
            let changes = match self.store.next_changes(BATCH).await {
                Ok(c) if c.is_empty() => return handled,
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(error = %e, "could not read the change feed");
                    return handled;
                }
            };
            let mut last_done = None;
            let mut failed = None;
            for change in changes {
                let result = match &change.images {
                    Ok((old, new)) => handle_change(&self.deps, old.as_ref(), new.as_ref()).await,
                    Err(e) => Err(EffectError::Invalid(e.to_string())),
                };
                match result {
                    Ok(()) => {}
                    Err(e) if !e.is_retryable() || change.attempts + 1 >= MAX_ATTEMPTS => {
                        tracing::error!(seq = change.seq, attempts = change.attempts + 1, error = %e, "appointment change given up");
                    }
                    Err(e) => {
                        tracing::warn!(seq = change.seq, error = %e, "appointment change failed; will retry");
                        failed = Some(change.seq);
                        break;
                    }
                }
                last_done = Some(change.seq);
                handled += 1;
            }
            if let Some(seq) = last_done {
                if let Err(e) = self.store.ack_changes_through(seq).await {
                    tracing::error!(seq, error = %e, "could not update the change feed");
                    return handled;
                }
            }
            if let Some(seq) = failed {
                if let Err(e) = self.store.retry_change(seq).await {
                    tracing::error!(seq, error = %e, "could not update the change feed");
                }
                return handled;
            }
        }
    }

    /// Fires every reminder due by the (dev) clock.
    async fn fire_due_reminders(&self) -> u32 {
        let now = self.deps.clock.now();
        let due = match self.store.due_reminders(now, BATCH).await {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "could not read the due reminders");
                return 0;
            }
        };
        let mut fired = 0;
        for reminder in due {
            let r = reminder.request;
            let retry_at = match send_reminder(&self.deps, &r).await {
                Ok(ReminderOutcome::InProgress) => Some(now + GATE_LEASE),
                Ok(_) => None,
                Err(e) if e.is_retryable() && reminder.attempts + 1 < MAX_ATTEMPTS => {
                    tracing::warn!(appointment_id = %r.appointment_id, kind = %r.kind, error = %e, "reminder failed; will retry");
                    Some(now + Duration::seconds(30 << reminder.attempts))
                }
                Err(e) => {
                    tracing::error!(appointment_id = %r.appointment_id, kind = %r.kind, error = %e, "reminder given up");
                    None
                }
            };
            let updated = match retry_at {
                Some(at) => self.store.postpone_reminder(&r, at).await,
                None => {
                    fired += 1;
                    self.store.finish_reminder(&r).await
                }
            };
            if let Err(e) = updated {
                tracing::error!(appointment_id = %r.appointment_id, error = %e, "could not update the schedule");
            }
        }
        fired
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;

    use chrono::{DateTime, Utc};
    use medichain::adapters::embedded::EmbeddedOutbox;
    use medichain::clock::{Clock, DevClock};
    use medichain::domain::reminder::{ReminderKind, ReminderRequest};
    use medichain::domain::{Appointment, AppointmentId};
    use medichain::ports::{AppointmentStore, OutboundError, ReminderScheduler};

    use super::*;

    /// The store's scheduler, except that call number `fail_at` (counting from 1) is refused as
    /// a passing outage.
    struct FlakyScheduler {
        store: EmbeddedStore,
        calls: AtomicU32,
        fail_at: u32,
    }

    #[async_trait::async_trait]
    impl ReminderScheduler for FlakyScheduler {
        async fn schedule_reminder(
            &self,
            reminder: &ReminderRequest,
            at: DateTime<Utc>,
        ) -> Result<(), OutboundError> {
            if self.calls.fetch_add(1, Ordering::SeqCst) + 1 == self.fail_at {
                return Err(OutboundError::Unavailable("scheduler down".into()));
            }
            self.store.schedule_reminder(reminder, at).await
        }

        async fn unschedule_reminder(
            &self,
            appointment_id: &AppointmentId,
            kind: ReminderKind,
        ) -> Result<(), OutboundError> {
            self.store.unschedule_reminder(appointment_id, kind).await
        }
    }

    fn appointment(clock: &dyn Clock, n: i64) -> Appointment {
        let start = clock.now() + Duration::days(3) + Duration::hours(n);
        serde_json::from_value(serde_json::json!({
            "id": AppointmentId::new().to_string(),
            "patient_id": "pat-1",
            "doctor_id": "doc-1",
            "doctor_name": "Ada Lane",
            "patient_name": "Jordan Rivera",
            "start": start,
            "end": start + Duration::minutes(30),
            "status": "booked",
            "room_name": "medichain-0123456789abcdef0123456789abcdef",
            "meeting_url": "https://meet.jit.si/medichain-0123456789abcdef0123456789abcdef",
            "version": 1,
            "created_at": clock.now(),
            "updated_at": clock.now(),
        }))
        .unwrap()
    }

    /// Three bookings, and the scheduler down for the second one's first schedule: the first
    /// change is acknowledged, the second stays first in the feed with one attempt counted, the
    /// third waits behind it; the next round handles both and empties the feed.
    #[tokio::test]
    async fn a_failed_change_stops_the_batch_after_the_handled_ones_are_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let clock: Arc<dyn Clock> = Arc::new(DevClock::new(Duration::zero()));
        let outbox = Arc::new(EmbeddedOutbox::new(store.clone(), clock.clone()));
        let scheduler = Arc::new(FlakyScheduler {
            store: store.clone(),
            calls: AtomicU32::new(0),
            // Each booking schedules two reminders: call 3 is the second booking's first.
            fail_at: 3,
        });
        let deps = EffectDeps::new(
            store.clone(),
            scheduler,
            outbox.clone(),
            outbox,
            clock.clone(),
            "http://127.0.0.1:8080",
        );
        let worker = LocalWorker::new(store.clone(), deps);
        let booked: Vec<Appointment> = (0..3).map(|n| appointment(clock.as_ref(), n)).collect();
        for a in &booked {
            store.create(a, None).await.unwrap();
        }

        assert_eq!(worker.drain_changes().await, 1);
        let left = store.next_changes(10).await.unwrap();
        let attempts: Vec<u32> = left.iter().map(|c| c.attempts).collect();
        assert_eq!(
            attempts,
            [1, 0],
            "the second change counted once, the third untouched"
        );
        let second_id = left[0].images.as_ref().unwrap().1.as_ref().unwrap().id;
        assert_eq!(second_id, booked[1].id);

        assert_eq!(worker.drain_changes().await, 2);
        assert!(store.next_changes(10).await.unwrap().is_empty());
        // Both reminders of every booking were scheduled, the failed one's on its retry.
        let far = clock.now() + Duration::days(30);
        let scheduled: Vec<_> = store
            .due_reminders(far, 50)
            .await
            .unwrap()
            .into_iter()
            .map(|d| (d.request.appointment_id, d.request.kind, d.request.start))
            .collect();
        assert_eq!(scheduled.len(), 6, "{scheduled:?}");
        for a in &booked {
            for kind in [ReminderKind::DayBefore, ReminderKind::Starting] {
                // Each with the start it was armed for, which is what it checks when it fires.
                assert!(
                    scheduled.contains(&(a.id, kind, Some(a.start))),
                    "{kind} of {}",
                    a.id
                );
            }
        }
    }
}
