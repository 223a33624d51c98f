//! The doctor directory, kept in memory for a short time. A booking, a slot listing and a
//! reschedule all need the doctor (hours, zone, slot length); in a Lambda container the same few
//! doctors are asked for again and again, and the directory changes rarely (no API route edits
//! it). One load of the whole directory (one Query) per container and TTL replaces a read per
//! request, so a booking is one write and nothing else.
//!
//! The trade-off: a change to a doctor made elsewhere (hours, name) reaches a warm container up
//! to [`CachedDirectory::ttl`] later. A doctor the cache does not know is still read from the
//! store, so a doctor added a moment ago can be booked at once, and an unknown id costs what it
//! cost before. Profiles are never cached: they carry contact details a user may just have changed.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::domain::{Doctor, UserId, UserProfile};
use crate::ports::{Contacts, Directory, StoreError};

/// How long a loaded directory is used before it is loaded again.
pub const DEFAULT_TTL: Duration = Duration::from_secs(30);

struct Snapshot {
    loaded: Instant,
    /// In the order `list_doctors` returns them (by name).
    doctors: Vec<Doctor>,
    by_id: HashMap<UserId, usize>,
}

/// A [`Directory`] that answers doctor lookups from a snapshot of the whole directory, loaded at
/// most once per `ttl` (never at cold start: the first request loads it).
pub struct CachedDirectory {
    inner: Arc<dyn Directory>,
    ttl: Duration,
    snapshot: RwLock<Option<Arc<Snapshot>>>,
    /// One load at a time: concurrent requests on an expired snapshot wait for the same load.
    loading: tokio::sync::Mutex<()>,
}

impl CachedDirectory {
    pub fn new(inner: Arc<dyn Directory>, ttl: Duration) -> Self {
        Self {
            inner,
            ttl,
            snapshot: RwLock::new(None),
            loading: tokio::sync::Mutex::new(()),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn fresh(&self) -> Option<Arc<Snapshot>> {
        let guard = self.snapshot.read().ok()?;
        guard
            .as_ref()
            .filter(|s| s.loaded.elapsed() < self.ttl)
            .cloned()
    }

    async fn current(&self) -> Result<Arc<Snapshot>, StoreError> {
        if let Some(s) = self.fresh() {
            return Ok(s);
        }
        let _one_load = self.loading.lock().await;
        // Another request may have loaded it while this one waited.
        if let Some(s) = self.fresh() {
            return Ok(s);
        }
        let doctors = self.inner.list_doctors().await?;
        let by_id = doctors
            .iter()
            .enumerate()
            .map(|(i, d)| (d.id.clone(), i))
            .collect();
        let snapshot = Arc::new(Snapshot {
            loaded: Instant::now(),
            doctors,
            by_id,
        });
        if let Ok(mut slot) = self.snapshot.write() {
            *slot = Some(snapshot.clone());
        }
        Ok(snapshot)
    }

    fn forget(&self) {
        if let Ok(mut slot) = self.snapshot.write() {
            *slot = None;
        }
    }
}

#[async_trait]
impl Directory for CachedDirectory {
    async fn list_doctors(&self) -> Result<Vec<Doctor>, StoreError> {
        Ok(self.current().await?.doctors.clone())
    }

    async fn get_doctor(&self, id: &UserId) -> Result<Option<Doctor>, StoreError> {
        let snapshot = self.current().await?;
        match snapshot.by_id.get(id) {
            Some(&i) => Ok(snapshot.doctors.get(i).cloned()),
            // Not in the snapshot: added since it was loaded, or no such doctor.
            None => self.inner.get_doctor(id).await,
        }
    }

    async fn put_doctor(&self, doctor: &Doctor) -> Result<(), StoreError> {
        self.inner.put_doctor(doctor).await?;
        // This process sees its own change at once.
        self.forget();
        Ok(())
    }

    async fn get_user(&self, id: &UserId) -> Result<Option<UserProfile>, StoreError> {
        self.inner.get_user(id).await
    }

    async fn put_user(&self, user: &UserProfile) -> Result<(), StoreError> {
        self.inner.put_user(user).await
    }

    async fn get_contacts(&self, ids: &[UserId]) -> Result<Vec<Contacts>, StoreError> {
        self.inner.get_contacts(ids).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    use chrono::{NaiveTime, Weekday};

    use super::*;
    use crate::domain::doctor::TimeZone;
    use crate::domain::WeeklyHours;

    /// A directory in memory that counts what it is asked.
    #[derive(Default)]
    struct Counting {
        doctors: Mutex<Vec<Doctor>>,
        lists: AtomicUsize,
        gets: AtomicUsize,
    }

    #[async_trait]
    impl Directory for Counting {
        async fn list_doctors(&self) -> Result<Vec<Doctor>, StoreError> {
            self.lists.fetch_add(1, Ordering::SeqCst);
            Ok(self.doctors.lock().unwrap().clone())
        }
        async fn get_doctor(&self, id: &UserId) -> Result<Option<Doctor>, StoreError> {
            self.gets.fetch_add(1, Ordering::SeqCst);
            Ok(self
                .doctors
                .lock()
                .unwrap()
                .iter()
                .find(|d| &d.id == id)
                .cloned())
        }
        async fn put_doctor(&self, doctor: &Doctor) -> Result<(), StoreError> {
            let mut all = self.doctors.lock().unwrap();
            all.retain(|d| d.id != doctor.id);
            all.push(doctor.clone());
            Ok(())
        }
        async fn get_user(&self, _id: &UserId) -> Result<Option<UserProfile>, StoreError> {
            Ok(None)
        }
        async fn put_user(&self, _user: &UserProfile) -> Result<(), StoreError> {
            Ok(())
        }
        async fn get_contacts(&self, ids: &[UserId]) -> Result<Vec<Contacts>, StoreError> {
            Ok(vec![Contacts::default(); ids.len()])
        }
    }

    fn doctor(id: &str, name: &str) -> Doctor {
        Doctor {
            id: UserId::parse(id).unwrap(),
            name: name.into(),
            specialty: "General practice".into(),
            time_zone: TimeZone::parse("Europe/Berlin").unwrap(),
            weekly_hours: WeeklyHours::every(
                &[Weekday::Mon],
                NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
                NaiveTime::from_hms_opt(12, 0, 0).unwrap(),
            )
            .unwrap(),
            slot_minutes: 30,
        }
    }

    fn cached(inner: &Arc<Counting>, ttl: Duration) -> CachedDirectory {
        CachedDirectory::new(inner.clone(), ttl)
    }

    #[tokio::test]
    async fn doctors_are_loaded_once_per_ttl_and_then_served_from_memory() {
        let inner = Arc::new(Counting::default());
        inner.put_doctor(&doctor("doc-1", "Ada")).await.unwrap();
        let cache = cached(&inner, Duration::from_secs(60));
        for _ in 0..5 {
            let found = cache
                .get_doctor(&UserId::parse("doc-1").unwrap())
                .await
                .unwrap();
            assert_eq!(found.map(|d| d.name), Some("Ada".to_owned()));
        }
        assert_eq!(cache.list_doctors().await.unwrap().len(), 1);
        assert_eq!(inner.lists.load(Ordering::SeqCst), 1);
        assert_eq!(inner.gets.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn an_expired_snapshot_is_loaded_again() {
        let inner = Arc::new(Counting::default());
        inner.put_doctor(&doctor("doc-1", "Ada")).await.unwrap();
        let cache = cached(&inner, Duration::from_millis(20));
        cache.list_doctors().await.unwrap();
        // Changed behind the cache's back (another container, an admin script).
        inner
            .put_doctor(&doctor("doc-1", "Ada Lane"))
            .await
            .unwrap();
        let stale = cache
            .get_doctor(&UserId::parse("doc-1").unwrap())
            .await
            .unwrap();
        assert_eq!(stale.map(|d| d.name), Some("Ada".to_owned()));
        tokio::time::sleep(Duration::from_millis(30)).await;
        let fresh = cache
            .get_doctor(&UserId::parse("doc-1").unwrap())
            .await
            .unwrap();
        assert_eq!(fresh.map(|d| d.name), Some("Ada Lane".to_owned()));
        assert_eq!(inner.lists.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_doctor_missing_from_the_snapshot_is_read_from_the_store() {
        let inner = Arc::new(Counting::default());
        let cache = cached(&inner, Duration::from_secs(60));
        assert!(cache.list_doctors().await.unwrap().is_empty());
        inner.put_doctor(&doctor("doc-2", "Bea")).await.unwrap();
        let added = cache
            .get_doctor(&UserId::parse("doc-2").unwrap())
            .await
            .unwrap();
        assert_eq!(added.map(|d| d.name), Some("Bea".to_owned()));
        let unknown = cache
            .get_doctor(&UserId::parse("nobody").unwrap())
            .await
            .unwrap();
        assert!(unknown.is_none());
        assert_eq!(inner.gets.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_doctor_written_through_the_cache_is_seen_at_once() {
        let inner = Arc::new(Counting::default());
        let cache = cached(&inner, Duration::from_secs(60));
        cache.put_doctor(&doctor("doc-1", "Ada")).await.unwrap();
        cache.list_doctors().await.unwrap();
        cache
            .put_doctor(&doctor("doc-1", "Ada Lane"))
            .await
            .unwrap();
        let names: Vec<String> = cache
            .list_doctors()
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.name)
            .collect();
        assert_eq!(names, ["Ada Lane"]);
    }

    #[tokio::test]
    async fn concurrent_requests_on_a_cold_cache_share_one_load() {
        let inner = Arc::new(Counting::default());
        inner.put_doctor(&doctor("doc-1", "Ada")).await.unwrap();
        let cache = Arc::new(cached(&inner, Duration::from_secs(60)));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let cache = cache.clone();
            tasks.push(tokio::spawn(async move {
                cache.get_doctor(&UserId::parse("doc-1").unwrap()).await
            }));
        }
        for t in tasks {
            assert!(t.await.unwrap().unwrap().is_some());
        }
        assert_eq!(inner.lists.load(Ordering::SeqCst), 1);
    }
}
