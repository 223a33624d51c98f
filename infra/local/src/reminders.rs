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
