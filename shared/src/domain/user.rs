//! Who is calling and what we keep about users: role, display name, time zone and contact.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::doctor::TimeZone;
use super::{InvalidValue, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Patient,
    Doctor,
}

impl Role {
    /// The identity provider group that grants this role.
    pub fn group(self) -> &'static str {
        match self {
            Role::Patient => "patients",
            Role::Doctor => "doctors",
        }
    }

    /// Reads the role from the `cognito:groups` claim. API Gateway's JWT authorizer passes arrays
    /// as a string like `[doctors patients]`; a JSON array string is accepted too. A user in both
    /// groups is ambiguous and gets no role.
    pub fn from_groups_claim(raw: &str) -> Option<Role> {
        let trimmed = raw.trim().trim_start_matches('[').trim_end_matches(']');
        let mut roles = trimmed
            .split(|c: char| c == ',' || c.is_whitespace())
            .map(|g| g.trim().trim_matches('"'))
            .filter_map(|g| match g {
                "patients" => Some(Role::Patient),
                "doctors" => Some(Role::Doctor),
                _ => None,
            });
        let first = roles.next()?;
        if roles.all(|r| r == first) {
            Some(first)
        } else {
            None
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Patient => "patient",
            Role::Doctor => "doctor",
        })
    }
}

/// The authenticated caller of a request, as the authorizer (or the local sign-in) vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub id: UserId,
    pub name: String,
    pub role: Role,
}

/// A phone number in E.164 form: `+`, a non-zero country digit, 7 to 15 digits in all.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let digits = raw.strip_prefix('+').unwrap_or("");
        let ok = (7..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidValue::new(
                "phone",
                "must be in E.164 form, e.g. +14155550123",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Phone numbers are personal data: debug output (and so logs) shows only the last two digits.
impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tail = &self.0[self.0.len().saturating_sub(2)..];
        write!(f, "PhoneNumber(+…{tail})")
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = InvalidValue;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<PhoneNumber> for String {
    fn from(value: PhoneNumber) -> Self {
        value.0
    }
}

/// What we keep about a user: name for display, time zone for dates in notifications, and the
/// contact used for reminders (doctors always get SMS where a phone is known; patients opt in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserProfile {
    pub id: UserId,
    pub role: Role,
    pub name: String,
    pub time_zone: TimeZone,
    #[serde(default)]
    pub phone: Option<PhoneNumber>,
    #[serde(default)]
    pub sms_opt_in: bool,
}

impl UserProfile {
    /// Whether reminders go to this user's phone by SMS.
    pub fn wants_sms(&self) -> bool {
        self.phone.is_some() && (self.role == Role::Doctor || self.sms_opt_in)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_claim_in_every_shape_api_gateway_sends() {
        assert_eq!(Role::from_groups_claim("[doctors]"), Some(Role::Doctor));
        assert_eq!(Role::from_groups_claim("[patients]"), Some(Role::Patient));
        assert_eq!(
            Role::from_groups_claim("[\"patients\"]"),
            Some(Role::Patient)
        );
        assert_eq!(
            Role::from_groups_claim("[admins patients]"),
            Some(Role::Patient)
        );
        assert_eq!(Role::from_groups_claim("[doctors patients]"), None);
        assert_eq!(Role::from_groups_claim("[]"), None);
        assert_eq!(Role::from_groups_claim("admins"), None);
    }

    #[test]
    fn phone_numbers_must_be_e164() {
        assert!(PhoneNumber::parse("+14155550123").is_ok());
        for bad in [
            "14155550123",
            "+1 415 555 0123",
            "+0123456789",
            "+12",
            "+1234567890123456",
            "",
        ] {
            assert!(
                PhoneNumber::parse(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn phone_numbers_never_print_in_full() {
        let p = PhoneNumber::parse("+14155550123").unwrap();
        assert_eq!(format!("{p:?}"), "PhoneNumber(+…23)");
    }
}
