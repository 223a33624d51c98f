//! Identifiers. A user id is the identity provider's subject (Cognito `sub`, or a demo user's id
//! locally); an appointment id is a random UUID minted by the booking use case.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::InvalidValue;

/// A user's id: 1–64 characters of `[A-Za-z0-9_-]`, which covers Cognito's UUID subjects and
/// keeps ids safe inside composite storage keys (no `#`) and URLs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

impl UserId {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let ok = !raw.is_empty()
            && raw.len() <= 64
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidValue::new(
                "user_id",
                "must be 1-64 characters of letters, digits, '-' or '_'",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UserId {
    type Error = InvalidValue;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<UserId> for String {
    fn from(value: UserId) -> Self {
        value.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An appointment's id: a version 4 UUID, always written in lowercase hyphenated form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AppointmentId(uuid::Uuid);

impl AppointmentId {
    pub fn new() -> Self {
        Self(uuid::Uuid::new_v4())
    }

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        // Only the canonical hyphenated form, so one appointment has exactly one spelling.
        if raw.len() != 36 {
            return Err(InvalidValue::new("appointment_id", "must be a UUID"));
        }
        uuid::Uuid::parse_str(raw)
            .map(Self)
            .map_err(|_| InvalidValue::new("appointment_id", "must be a UUID"))
    }
}

impl Default for AppointmentId {
    fn default() -> Self {
        Self::new()
    }
}

impl TryFrom<String> for AppointmentId {
    type Error = InvalidValue;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value.to_ascii_lowercase())
    }
}

impl From<AppointmentId> for String {
    fn from(value: AppointmentId) -> Self {
        value.to_string()
    }
}

impl fmt::Display for AppointmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_reject_what_would_break_keys_or_urls() {
        for bad in ["", "a#b", "a/b", "a b", "é", &"x".repeat(65)] {
            assert!(UserId::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(UserId::parse("3f2c9a1e-0b7d-4c55-9a3e-1f2d3c4b5a69").is_ok());
        assert!(UserId::parse("demo_patient-1").is_ok());
    }

    #[test]
    fn appointment_ids_round_trip_in_canonical_form() {
        let id = AppointmentId::new();
        let text = id.to_string();
        assert_eq!(AppointmentId::parse(&text).unwrap(), id);
        assert!(AppointmentId::parse("not-a-uuid").is_err());
        assert!(AppointmentId::parse(&text.replace('-', "")).is_err());
    }
}
