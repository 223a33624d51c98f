//! Fuzzing of every parser that reads outside input, on the stable toolchain: proptest feeds each
//! parser arbitrary strings and bytes plus mutations of valid values, and checks that it never
//! panics, that what it accepts has the documented shape, and that accepted values round-trip.
//! (cargo-fuzz needs a nightly toolchain, which this project's machines do not have; see
//! docs/security.md.) Inputs that once broke a parser stay below as regression cases, and proptest
//! keeps any new failing input in `proptest-regressions/`.
//!
//! `FUZZ_CASES` sets the number of cases per property (default 2000).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use medichain::api::caller_from_claims;
use medichain::domain::appointment::Reason;
use medichain::domain::device::{Device, DeviceId, DeviceToken, PushPlatform};
use medichain::domain::doctor::TimeZone;
use medichain::domain::notification::{Notification, NotificationId};
use medichain::domain::reminder::{ReminderKind, ReminderRequest};
use medichain::domain::user::PhoneNumber;
use medichain::domain::{Appointment, AppointmentId, Doctor, Role, RoomName, UserId, UserProfile};
use medichain::ports::IdempotencyKey;
use proptest::prelude::*;

fn config() -> ProptestConfig {
    let cases = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// Any string, weighted towards the characters parsers care about.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ -~]{0,80}",
        "[+0-9 ]{0,20}",
        "[A-Za-z_/+-]{0,40}",
        "[0-9a-fA-F-]{30,40}",
        "medichain-[0-9a-fA-F]{28,36}",
        "[0-9T:.Z+-]{0,40}",
    ]
}

/// A valid JSON document mutated: a character dropped, replaced or inserted.
fn mutated(valid: String) -> impl Strategy<Value = String> {
    let len = valid.chars().count().max(1);
    (0..len, any::<char>(), 0u8..3).prop_map(move |(at, c, op)| {
        let mut chars: Vec<char> = valid.chars().collect();
        let at = at.min(chars.len().saturating_sub(1));
        match op {
            0 if !chars.is_empty() => {
                chars.remove(at);
            }
            1 if !chars.is_empty() => chars[at] = c,
            _ => chars.insert(at, c),
        }
        chars.into_iter().collect()
    })
}

const APPOINTMENT_JSON: &str = r#"{"id":"3f2c9a1e-0b7d-4c55-9a3e-1f2d3c4b5a69","patient_id":"pat","doctor_id":"doc","doctor_name":"Ada","patient_name":"Pat","start":"2030-01-01T10:00:00Z","end":"2030-01-01T10:30:00Z","status":"booked","room_name":"medichain-0123456789abcdef0123456789abcdef","meeting_url":"https://meet.jit.si/medichain-0123456789abcdef0123456789abcdef","reason":"cough","version":1,"created_at":"2029-12-01T10:00:00Z","updated_at":"2029-12-01T10:00:00Z"}"#;
const DOCTOR_JSON: &str = r#"{"id":"doc","name":"Ada","specialty":"GP","time_zone":"Europe/Berlin","weekly_hours":[{"day":"Mon","start":"09:00","end":"12:00"}],"slot_minutes":30}"#;
const PROFILE_JSON: &str = r#"{"id":"pat","role":"patient","name":"Pat","time_zone":"UTC","phone":"+14155550123","sms_opt_in":true}"#;
const REMINDER_JSON: &str =
    r#"{"appointment_id":"3f2c9a1e-0b7d-4c55-9a3e-1f2d3c4b5a69","kind":"24h","version":3}"#;
const REMINDER_WITH_PARTICIPANTS_JSON: &str = r#"{"appointment_id":"3f2c9a1e-0b7d-4c55-9a3e-1f2d3c4b5a69","kind":"5m","version":3,"participants":{"patient":"pat-1","doctor":"doc-1"}}"#;

proptest! {
    #![proptest_config(config())]

    #[test]
    fn phone_numbers_accept_only_e164(raw in text()) {
        if let Ok(p) = PhoneNumber::parse(&raw) {
            let digits = raw.strip_prefix('+').expect("a leading +");
            prop_assert!((7..=15).contains(&digits.len()));
            prop_assert!(digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0'));
            prop_assert_eq!(p.as_str(), raw.as_str());
            // Debug output (what logs would show) never holds more than the last two digits.
            let debug = format!("{p:?}");
            prop_assert!(!debug.contains(&digits[..digits.len() - 2]));
        }
    }

    #[test]
    fn time_zones_are_iana_names_that_round_trip(raw in text()) {
        if let Ok(zone) = TimeZone::parse(&raw) {
            prop_assert_eq!(TimeZone::parse(zone.name()).unwrap(), zone);
            let json = serde_json::to_string(&zone).unwrap();
            prop_assert_eq!(serde_json::from_str::<TimeZone>(&json).unwrap(), zone);
        }
    }

    #[test]
    fn room_names_are_the_prefix_and_32_lowercase_hex_digits(raw in text()) {
        if let Ok(room) = RoomName::parse(&raw) {
            prop_assert_eq!(room.as_str().len(), 42);
            prop_assert!(room.as_str().starts_with("medichain-"));
            prop_assert!(room.as_str()[10..].bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        }
    }

    #[test]
    fn ids_parse_only_their_own_alphabet(raw in text()) {
        if let Ok(id) = UserId::parse(&raw) {
            prop_assert!(!raw.contains('#') && !raw.contains('/') && raw.len() <= 64);
            prop_assert_eq!(id.as_str(), raw.as_str());
        }
        if let Ok(id) = AppointmentId::parse(&raw) {
            // One appointment, one spelling: any accepted form prints as lowercase hyphenated.
            prop_assert_eq!(id.to_string(), raw.to_ascii_lowercase());
        }
        if let Ok(id) = DeviceId::parse(&raw) {
            prop_assert_eq!(id.as_str(), raw.as_str());
        }
        if let Ok(id) = NotificationId::parse(&raw) {
            prop_assert_eq!(id.as_str(), raw.as_str());
        }
        let _ = ReminderKind::parse(&raw);
    }

    #[test]
    fn idempotency_keys_are_visible_ascii_up_to_255(raw in prop_oneof![text(), "[!-~]{250,260}"]) {
        let user = UserId::parse("pat").unwrap();
        match IdempotencyKey::parse(user, &raw) {
            Ok(key) => {
                prop_assert!(!raw.is_empty() && raw.len() <= 255);
                prop_assert!(raw.bytes().all(|b| b.is_ascii_graphic()));
                prop_assert_eq!(key.key, raw);
            }
            Err(_) => prop_assert!(raw.is_empty() || raw.len() > 255 || !raw.bytes().all(|b| b.is_ascii_graphic())),
        }
    }

    #[test]
    fn device_tokens_follow_their_platform(raw in prop_oneof![text(), "[0-9a-f]{60,70}", "[A-Za-z0-9_:-]{30,40}"]) {
        for platform in [PushPlatform::Apns, PushPlatform::Fcm] {
            if let Ok(token) = DeviceToken::parse(platform, &raw) {
                prop_assert_eq!(token.as_str(), raw.as_str());
                // The token is a secret of the device: Debug never shows it.
                let debug = format!("{token:?}");
                prop_assert!(!debug.contains(&raw));
            }
        }
    }

    #[test]
    fn reasons_are_trimmed_bounded_and_free_of_control_characters(raw in any::<String>()) {
        if let Ok(reason) = Reason::parse(&raw) {
            prop_assert!(reason.as_str().chars().count() <= Reason::MAX_CHARS);
            prop_assert!(!reason.as_str().chars().any(|c| c.is_control() && c != '\n'));
            prop_assert_eq!(reason.as_str(), raw.trim());
        }
    }

    #[test]
    fn dates_and_times_from_queries_and_bodies_never_panic(raw in text()) {
        // The API reads `date` (YYYY-MM-DD) and RFC 3339 date-times with chrono; a parsed value
        // must print back to something that parses to the same instant.
        if let Ok(date) = NaiveDate::parse_from_str(&raw, "%Y-%m-%d") {
            prop_assert_eq!(NaiveDate::parse_from_str(&date.to_string(), "%Y-%m-%d").unwrap(), date);
        }
        if let Ok(t) = DateTime::parse_from_rfc3339(&raw) {
            let utc = t.with_timezone(&Utc);
            prop_assert_eq!(DateTime::parse_from_rfc3339(&utc.to_rfc3339()).unwrap(), utc);
        }
    }

    #[test]
    fn authorizer_claims_never_panic(sub in text(), name in any::<String>(), groups in text()) {
        let claims = HashMap::from([
            ("sub".to_owned(), sub.clone()),
            ("name".to_owned(), name),
            ("cognito:groups".to_owned(), groups),
        ]);
        if let Ok(caller) = caller_from_claims(&claims) {
            prop_assert_eq!(caller.id.as_str(), sub.as_str());
            prop_assert!(caller.name.chars().count() <= 100);
            prop_assert!(!caller.name.is_empty());
        }
        let _ = Role::from_groups_claim(&sub);
    }

    /// Stored items come back through their JSON `body` (DynamoDB and SQLite alike) and stream
    /// images through the same serde: a damaged one is an error, never a panic.
    #[test]
    fn stored_bodies_never_panic_when_damaged(
        appointment in mutated(APPOINTMENT_JSON.to_owned()),
        doctor in mutated(DOCTOR_JSON.to_owned()),
        profile in mutated(PROFILE_JSON.to_owned()),
        garbage in any::<Vec<u8>>(),
    ) {
        if let Ok(a) = serde_json::from_str::<Appointment>(&appointment) {
            // Whatever parses is valid by construction and survives the round trip.
            let again: Appointment = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
            prop_assert_eq!(again, a);
        }
        if let Ok(d) = serde_json::from_str::<Doctor>(&doctor) {
            let again: Doctor = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
            prop_assert_eq!(again, d);
        }
        if let Ok(p) = serde_json::from_str::<UserProfile>(&profile) {
            prop_assert!(p.phone.is_none() || PhoneNumber::parse(p.phone.as_ref().unwrap().as_str()).is_ok());
        }
        let _ = serde_json::from_slice::<Appointment>(&garbage);
        let _ = serde_json::from_slice::<Notification>(&garbage);
        let _ = serde_json::from_slice::<Device>(&garbage);
    }

    /// What a fired schedule hands to send-reminder: exactly {appointment_id, kind, version}
    /// and, in payloads scheduled since, {patient, doctor} as `participants`.
    #[test]
    fn scheduler_payloads_parse_strictly(payload in prop_oneof![
        mutated(REMINDER_JSON.to_owned()),
        mutated(REMINDER_WITH_PARTICIPANTS_JSON.to_owned()),
        text(),
    ]) {
        if let Ok(r) = serde_json::from_str::<ReminderRequest>(&payload) {
            let json = serde_json::to_value(&r).unwrap();
            let fields = json.as_object().unwrap();
            prop_assert_eq!(fields.len(), 3 + usize::from(r.participants.is_some()));
            if let Some(named) = fields.get("participants") {
                prop_assert_eq!(named.as_object().unwrap().len(), 2);
            }
            prop_assert_eq!(serde_json::from_value::<ReminderRequest>(json).unwrap(), r);
        }
    }
}

/// Inputs that are easy to get wrong, kept as regression cases for the parsers above.
#[test]
fn known_tricky_inputs_are_rejected() {
    for phone in [
        "+",
        "+0123456789",
        "+1234",
        "+1234567890123456",
        "14155550123",
        "+1 415 555 0123",
        "+١٢٣٤٥٦٧٨",
        "+12345678\u{0}",
    ] {
        assert!(PhoneNumber::parse(phone).is_err(), "{phone:?}");
    }
    for zone in [
        "",
        "utc/",
        "Europe/../etc/passwd",
        "Mars/Olympus",
        "Europe/Berlin\n",
    ] {
        assert!(TimeZone::parse(zone).is_err(), "{zone:?}");
    }
    for room in [
        "medichain-0123456789ABCDEF0123456789abcdef",
        "medichain-0123456789abcdef0123456789abcde",
        "medichain-0123456789abcdef0123456789abcdef0",
        "x-0123456789abcdef0123456789abcdef",
    ] {
        assert!(RoomName::parse(room).is_err(), "{room:?}");
    }
    for id in [
        "{3f2c9a1e-0b7d-4c55-9a3e-1f2d3c4b5a69}",
        "3f2c9a1e0b7d4c559a3e1f2d3c4b5a69",
        "urn:uuid:3f2c9a1e-0b7d-4c55-9a3e-1f2d3c4b5a69",
    ] {
        assert!(AppointmentId::parse(id).is_err(), "{id:?}");
    }
    let user = UserId::parse("pat").unwrap();
    for key in ["", " ", "a b", "é", "\u{7f}"] {
        assert!(IdempotencyKey::parse(user.clone(), key).is_err(), "{key:?}");
    }
    assert!(Reason::parse("fine\u{202e}evil\u{0}").is_err());
    for payload in [
        r#"{"appointment_id":"3f2c9a1e-0b7d-4c55-9a3e-1f2d3c4b5a69","kind":"24h","version":-1}"#,
        r#"{"appointment_id":"3f2c9a1e-0b7d-4c55-9a3e-1f2d3c4b5a69","kind":"1h","version":1}"#,
        r#"{"appointment_id":"3f2c9a1e-0b7d-4c55-9a3e-1f2d3c4b5a69","kind":"5m","version":1,"phone":"+14155550123"}"#,
        r#"{"appointment_id":"3f2c9a1e-0b7d-4c55-9a3e-1f2d3c4b5a69","kind":"5m","version":18446744073709551616}"#,
    ] {
        assert!(
            serde_json::from_str::<ReminderRequest>(payload).is_err(),
            "{payload}"
        );
    }
    // A doctor whose stored hours overlap is refused on the way back in.
    let overlapping = DOCTOR_JSON.replace(
        r#"[{"day":"Mon","start":"09:00","end":"12:00"}]"#,
        r#"[{"day":"Mon","start":"09:00","end":"12:00"},{"day":"Mon","start":"11:00","end":"13:00"}]"#,
    );
    assert!(serde_json::from_str::<Doctor>(&overlapping).is_err());
    assert!(serde_json::from_str::<Appointment>(APPOINTMENT_JSON).is_ok());
    assert!(serde_json::from_str::<Doctor>(DOCTOR_JSON).is_ok());
    assert!(serde_json::from_str::<UserProfile>(PROFILE_JSON).is_ok());
    assert!(serde_json::from_str::<ReminderRequest>(REMINDER_JSON).is_ok());
}
