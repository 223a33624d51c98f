//! Jitsi rooms. A room name is the only thing that ties a conference to an appointment, so it must
//! not be guessable and must not say who meets whom or when: `medichain-` followed by 128 random
//! bits in lowercase hex (the seed's `medichain-{doctor}-{date}-{time}-{8 hex}` leaked both).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::InvalidValue;

const PREFIX: &str = "medichain-";
const RANDOM_HEX_LEN: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoomName(String);

impl RoomName {
    /// Mints a fresh room name from the operating system's random source.
    pub fn mint() -> Self {
        let mut bytes = [0u8; RANDOM_HEX_LEN / 2];
        // The OS random source failing is not a recoverable condition for a booking service.
        getrandom::fill(&mut bytes).expect("operating system random source unavailable");
        let mut name = String::with_capacity(PREFIX.len() + RANDOM_HEX_LEN);
        name.push_str(PREFIX);
        for b in bytes {
            name.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            name.push(char::from(b"0123456789abcdef"[usize::from(b & 0x0f)]));
        }
        Self(name)
    }

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let ok = raw.len() == PREFIX.len() + RANDOM_HEX_LEN
            && raw.starts_with(PREFIX)
            && raw[PREFIX.len()..]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidValue::new(
                "room_name",
                "must be 'medichain-' followed by 32 lowercase hex digits",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RoomName {
    type Error = InvalidValue;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<RoomName> for String {
    fn from(value: RoomName) -> Self {
        value.0
    }
}

impl fmt::Display for RoomName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where rooms live. The public `meet.jit.si` is the local demo default; production points this at
/// 8x8 JaaS or a self-hosted Jitsi with token authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JitsiSettings {
    domain: String,
    /// A path segment every room lives under (the AppID on 8x8 JaaS).
    tenant: Option<String>,
}

impl JitsiSettings {
    pub const DEFAULT_DOMAIN: &'static str = "meet.jit.si";

    /// A bare host name (optionally with a port), no scheme or path.
    pub fn new(domain: &str) -> Result<Self, InvalidValue> {
        let ok = !domain.is_empty()
            && domain.len() <= 253
            && domain
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b':');
        if ok {
            Ok(Self {
                domain: domain.to_ascii_lowercase(),
                tenant: None,
            })
        } else {
            Err(InvalidValue::new(
                "JITSI_DOMAIN",
                "must be a host name such as meet.jit.si",
            ))
        }
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// Rooms under `tenant/` (JaaS addresses rooms as `<AppID>/<room>`). The caller has checked
    /// that `tenant` is URL-safe.
    pub fn with_tenant(mut self, tenant: &str) -> Self {
        self.tenant = Some(tenant.to_owned());
        self
    }

    /// The link that opens the room directly in Jitsi, with the prejoin screen on
    /// (`prejoinConfig.enabled`; the seed's `prejoinPageEnabled` was removed from Jitsi).
    pub fn meeting_url(&self, room: &RoomName) -> String {
        let tenant = self
            .tenant
            .as_deref()
            .map(|t| format!("{t}/"))
            .unwrap_or_default();
        format!(
            "https://{}/{tenant}{room}#config.prejoinConfig.enabled=true",
            self.domain
        )
    }
}

impl Default for JitsiSettings {
    fn default() -> Self {
        Self {
            domain: Self::DEFAULT_DOMAIN.to_owned(),
            tenant: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn minted_names_have_the_documented_shape_and_parse_back() {
        let room = RoomName::mint();
        assert!(room.as_str().starts_with("medichain-"));
        assert_eq!(room.as_str().len(), "medichain-".len() + 32);
        assert_eq!(RoomName::parse(room.as_str()).unwrap(), room);
    }

    #[test]
    fn minted_names_are_unique() {
        let names: HashSet<String> = (0..10_000).map(|_| RoomName::mint().into()).collect();
        assert_eq!(names.len(), 10_000);
    }

    #[test]
    fn minted_names_spread_over_every_hex_digit() {
        // 128 random bits: across many names every position takes many values.
        let names: Vec<RoomName> = (0..2_000).map(|_| RoomName::mint()).collect();
        for pos in 10..42 {
            let distinct: HashSet<u8> = names.iter().map(|n| n.as_str().as_bytes()[pos]).collect();
            assert!(distinct.len() >= 12, "position {pos} looks not random");
        }
    }

    #[test]
    fn room_names_that_leak_or_are_short_are_rejected() {
        for bad in [
            "medichain-abc123def456-20240115-1430-a1b2c3d4",
            "medichain-a1b2c3d4",
            "MEDICHAIN-0123456789abcdef0123456789abcdef",
            "medichain-0123456789ABCDEF0123456789ABCDEF",
            "other-0123456789abcdef0123456789abcdef0000",
            "",
        ] {
            assert!(RoomName::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn meeting_url_uses_the_configured_domain_and_prejoin_fragment() {
        let room = RoomName::parse("medichain-0123456789abcdef0123456789abcdef").unwrap();
        let jitsi = JitsiSettings::new("video.example.org").unwrap();
        assert_eq!(
            jitsi.meeting_url(&room),
            "https://video.example.org/medichain-0123456789abcdef0123456789abcdef#config.prejoinConfig.enabled=true"
        );
        assert_eq!(JitsiSettings::default().domain(), "meet.jit.si");
        assert!(JitsiSettings::new("https://evil.example/x").is_err());
    }
}
