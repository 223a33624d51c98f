//! Adapters: the ports implemented on real technology. `embedded` is SQLite in a file (the local
//! default and the reference for the contract suite); `aws` talks to AWS through the SDK.

#[cfg(feature = "aws")]
pub mod aws;
pub mod cached_directory;
#[cfg(feature = "embedded")]
pub mod embedded;

/// Fixed-width UTC timestamps with millisecond precision: as text they sort in time order, which
/// both stores rely on for range keys.
pub fn sortable_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Parses what [`sortable_time`] wrote (or any RFC 3339 time).
pub fn parse_time(raw: &str) -> Result<chrono::DateTime<chrono::Utc>, crate::ports::StoreError> {
    chrono::DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|_| crate::ports::StoreError::Corrupt(format!("bad timestamp {raw:?}")))
}
