//! Mobile devices registered for push reminders: the platform (Apple's APNs or Firebase Cloud
//! Messaging), the device token the app got from it, and the push endpoint made from that token.
//! Tokens are credentials for reaching a person's phone: they never appear in logs, and stores
//! keep only the endpoint and a hash that makes registration idempotent.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{InvalidValue, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PushPlatform {
    Apns,
    Fcm,
}

impl PushPlatform {
    pub fn as_str(self) -> &'static str {
        match self {
            PushPlatform::Apns => "apns",
            PushPlatform::Fcm => "fcm",
        }
    }
}

impl fmt::Display for PushPlatform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A device token as the platform issued it: APNs tokens are hex (64 characters today, up to 200
/// allowed), FCM registration tokens are up to 4096 characters of `[A-Za-z0-9_:-]`.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceToken {
    platform: PushPlatform,
    token: String,
}

impl DeviceToken {
    pub fn parse(platform: PushPlatform, raw: &str) -> Result<Self, InvalidValue> {
        let ok = match platform {
            PushPlatform::Apns => {
                (64..=200).contains(&raw.len())
                    && raw.len().is_multiple_of(2)
                    && raw.bytes().all(|b| b.is_ascii_hexdigit())
            }
            PushPlatform::Fcm => {
                (32..=4096).contains(&raw.len())
                    && raw
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_:-".contains(&b))
            }
        };
        if ok {
            Ok(Self {
                platform,
                token: raw.to_owned(),
            })
        } else {
            Err(InvalidValue::new(
                "token",
                match platform {
                    PushPlatform::Apns => "must be an APNs device token (64-200 hex digits)",
                    PushPlatform::Fcm => "must be an FCM registration token",
                },
            ))
        }
    }

    pub fn platform(&self) -> PushPlatform {
        self.platform
    }

    pub fn as_str(&self) -> &str {
        &self.token
    }

    /// The id of this token's registration for `user`: the same phone registering again gets the
    /// same device, and the id reveals nothing of the token.
    pub fn device_id(&self, user: &UserId) -> DeviceId {
        let mut h = Sha256::new();
        for part in [user.as_str(), self.platform.as_str(), &self.token] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
        DeviceId(
            h.finalize()[..16]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        )
    }
}

impl fmt::Debug for DeviceToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceToken({}, …)", self.platform)
    }
}

/// A registered device's id: 32 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DeviceId(String);

impl DeviceId {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        if raw.len() == 32
            && raw
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidValue::new("id", "not a device id"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DeviceId {
    type Error = InvalidValue;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<DeviceId> for String {
    fn from(value: DeviceId) -> Self {
        value.0
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where push messages for one device go: an SNS platform endpoint ARN in AWS, a local name in
/// the embedded outbox. Opaque to everything but the notifier that made it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PushEndpoint(pub String);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub id: DeviceId,
    pub user_id: UserId,
    pub platform: PushPlatform,
    pub endpoint: PushEndpoint,
    pub created_at: DateTime<Utc>,
}

impl Device {
    /// How many devices one user may register; each gets every reminder.
    pub const MAX_PER_USER: usize = 10;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked_per_platform() {
        let apns = "a".repeat(64);
        let fcm = format!("{}:APA91b{}", "x".repeat(11), "y_-".repeat(40));
        assert!(DeviceToken::parse(PushPlatform::Apns, &apns).is_ok());
        assert!(DeviceToken::parse(PushPlatform::Fcm, &fcm).is_ok());
        for (platform, bad) in [
            (PushPlatform::Apns, "a".repeat(63)),
            (PushPlatform::Apns, "g".repeat(64)),
            (PushPlatform::Apns, fcm.clone()),
            (PushPlatform::Fcm, "short".to_owned()),
            (PushPlatform::Fcm, format!("{} {}", "x".repeat(40), "y")),
            (PushPlatform::Fcm, "x".repeat(4097)),
        ] {
            assert!(
                DeviceToken::parse(platform, &bad).is_err(),
                "{platform} {bad:?}"
            );
        }
    }

    #[test]
    fn device_ids_are_stable_per_user_and_hide_the_token() {
        let token = DeviceToken::parse(PushPlatform::Apns, &"ab".repeat(32)).unwrap();
        let alice = UserId::parse("alice").unwrap();
        let bob = UserId::parse("bob").unwrap();
        let id = token.device_id(&alice);
        assert_eq!(id, token.device_id(&alice));
        assert_ne!(id, token.device_id(&bob));
        assert!(!id.as_str().contains("abab"));
        assert_eq!(DeviceId::parse(id.as_str()).unwrap(), id);
        assert!(DeviceId::parse("../x").is_err());
        assert_eq!(format!("{token:?}"), "DeviceToken(apns, …)");
    }
}
