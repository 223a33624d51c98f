//! The store contract of the hardening ports: the appointment audit trail and usage quotas.
//! `audit_contract_suite!` turns each case into a test on a fresh store, like `contract_suite!`.

use chrono::{Duration, NaiveDate};
use medichain::domain::audit::{AuditAction, AuditEvent, AUDIT_RETENTION};
use medichain::domain::{AppointmentId, Role};
use medichain::ports::{AuditLog, QuotaKind, UsageQuota};

use crate::support::{base_time, user};

pub trait Store: AuditLog + UsageQuota + Clone + 'static {}
impl<S: AuditLog + UsageQuota + Clone + 'static> Store for S {}

macro_rules! audit_contract_suite {
    ($fixture:path) => {
        $crate::contract::audit::audit_contract_suite!(@cases $fixture;
            audit_events_read_back_per_appointment_oldest_first,
            many_audit_events_at_once_are_all_kept,
            audit_events_of_the_same_instant_do_not_overwrite_each_other,
            a_quota_is_taken_up_to_its_limit_per_user_and_day,
            concurrent_takers_never_exceed_a_quota,
        );
    };
    (@cases $fixture:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let fixture = $fixture().await;
                $crate::contract::audit::$case(&fixture.store).await;
            }
        )*
    };
}
pub(crate) use audit_contract_suite;

fn event(id: AppointmentId, minutes: i64, actor: &str, action: AuditAction) -> AuditEvent {
    AuditEvent {
        appointment_id: id,
        at: base_time() + Duration::minutes(minutes),
        actor: user(actor),
        actor_role: if actor.starts_with("doc") {
            Role::Doctor
        } else {
            Role::Patient
        },
        action,
    }
}

pub async fn audit_events_read_back_per_appointment_oldest_first<S: Store>(store: &S) {
    let (mine, other) = (AppointmentId::new(), AppointmentId::new());
    let later = event(mine, 5, "doc-1", AuditAction::Read);
    let first = event(mine, 0, "pat-1", AuditAction::Booked);
    store.record(std::slice::from_ref(&later)).await.unwrap();
    store
        .record(&[first.clone(), event(other, 1, "pat-2", AuditAction::Read)])
        .await
        .unwrap();
    assert_eq!(
        store.audit_of(&mine, 100).await.unwrap(),
        [first.clone(), later]
    );
    assert_eq!(
        store.audit_of(&mine, 1).await.unwrap(),
        std::slice::from_ref(&first)
    );
    assert!(store
        .audit_of(&AppointmentId::new(), 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(first.expires_at() - first.at, AUDIT_RETENTION);
}

pub async fn many_audit_events_at_once_are_all_kept<S: Store>(store: &S) {
    // A listing records one event per appointment on the page (up to 100): more than one batch.
    let ids: Vec<AppointmentId> = (0..60).map(|_| AppointmentId::new()).collect();
    let events: Vec<AuditEvent> = ids
        .iter()
        .map(|id| event(*id, 0, "pat-1", AuditAction::Listed))
        .collect();
    store.record(&events).await.unwrap();
    for (id, e) in ids.iter().zip(&events) {
        assert_eq!(
            store.audit_of(id, 10).await.unwrap(),
            std::slice::from_ref(e)
        );
    }
}

pub async fn audit_events_of_the_same_instant_do_not_overwrite_each_other<S: Store>(store: &S) {
    let id = AppointmentId::new();
    let a = event(id, 0, "pat-1", AuditAction::Read);
    let b = event(id, 0, "doc-1", AuditAction::Read);
    store.record(std::slice::from_ref(&a)).await.unwrap();
    store.record(std::slice::from_ref(&b)).await.unwrap();
    store.record(std::slice::from_ref(&a)).await.unwrap();
    let got = store.audit_of(&id, 10).await.unwrap();
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got.iter().filter(|e| **e == a).count(), 2);
}

pub async fn a_quota_is_taken_up_to_its_limit_per_user_and_day<S: Store>(store: &S) {
    let day = NaiveDate::from_ymd_opt(2030, 1, 15).unwrap();
    let expires = base_time() + Duration::days(2);
    let (pat, doc) = (user("pat-1"), user("doc-1"));
    for _ in 0..3 {
        assert!(store
            .try_take(&pat, QuotaKind::SmsPerDay, day, 3, expires)
            .await
            .unwrap());
    }
    assert!(!store
        .try_take(&pat, QuotaKind::SmsPerDay, day, 3, expires)
        .await
        .unwrap());
    // Another user, and another day, have their own quota.
    assert!(store
        .try_take(&doc, QuotaKind::SmsPerDay, day, 3, expires)
        .await
        .unwrap());
    assert!(store
        .try_take(
            &pat,
            QuotaKind::SmsPerDay,
            day.succ_opt().unwrap(),
            3,
            expires
        )
        .await
        .unwrap());
}

pub async fn concurrent_takers_never_exceed_a_quota<S: Store>(store: &S) {
    let day = NaiveDate::from_ymd_opt(2030, 1, 16).unwrap();
    let expires = base_time() + Duration::days(2);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .try_take(&user("pat-9"), QuotaKind::SmsPerDay, day, 5, expires)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut taken = 0;
    for t in tasks {
        taken += u32::from(t.await.unwrap());
    }
    assert_eq!(taken, 5);
}
