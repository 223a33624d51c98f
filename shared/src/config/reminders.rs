//! Settings of reminders and notifications in AWS, read once at cold start: where schedules go
//! and what they invoke, the event bus, and the SNS platform applications for push.
//!
//! | variable | used by | meaning |
//! |---|---|---|
//! | `SCHEDULE_GROUP` | appointment-events | EventBridge Scheduler group (default `medichain-reminders`) |
//! | `REMINDER_FUNCTION_ARN` | appointment-events | the send-reminder function the schedules invoke |
//! | `SCHEDULER_ROLE_ARN` | appointment-events | the role EventBridge Scheduler assumes to invoke it |
//! | `REMINDER_DLQ_ARN` | appointment-events | SQS queue for reminders the scheduler could not deliver |
//! | `EVENT_BUS_NAME` | appointment-events | the bus domain events go to |
//! | `SNS_APNS_APPLICATION_ARN` | register-device | SNS platform application for APNs (optional) |
//! | `SNS_FCM_APPLICATION_ARN` | register-device | SNS platform application for FCM (optional) |

use super::{required, AppConfig};
use crate::domain::reminder::MAX_SITE_URL_FOR_ONE_SEGMENT;
use crate::domain::InvalidValue;

pub const DEFAULT_SCHEDULE_GROUP: &str = "medichain-reminders";

fn arn(get: &impl Fn(&str) -> Option<String>, name: &'static str) -> Result<String, InvalidValue> {
    let value = required(get, name)?;
    if value.starts_with("arn:") {
        Ok(value)
    } else {
        Err(InvalidValue::new(name, "must be an ARN"))
    }
}

/// Where reminder schedules live and what they invoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleTarget {
    pub group: String,
    pub function_arn: String,
    pub role_arn: String,
    pub dead_letter_arn: String,
}

impl ScheduleTarget {
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, InvalidValue> {
        let group = get("SCHEDULE_GROUP")
            .filter(|g| !g.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_SCHEDULE_GROUP.to_owned());
        let ok = group.len() <= 64
            && group
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !ok {
            return Err(InvalidValue::new(
                "SCHEDULE_GROUP",
                "must be 1-64 characters of letters, digits, '-', '_' or '.'",
            ));
        }
        Ok(Self {
            group,
            function_arn: arn(&get, "REMINDER_FUNCTION_ARN")?,
            role_arn: arn(&get, "SCHEDULER_ROLE_ARN")?,
            dead_letter_arn: arn(&get, "REMINDER_DLQ_ARN")?,
        })
    }
}

/// The SNS platform applications push endpoints are made on; a platform without one is not
/// offered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushApps {
    pub apns: Option<String>,
    pub fcm: Option<String>,
}

impl PushApps {
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, InvalidValue> {
        let optional = |name: &'static str| -> Result<Option<String>, InvalidValue> {
            match get(name).filter(|v| !v.trim().is_empty()) {
                None => Ok(None),
                Some(_) => arn(&get, name).map(Some),
            }
        };
        Ok(Self {
            apns: optional("SNS_APNS_APPLICATION_ARN")?,
            fcm: optional("SNS_FCM_APPLICATION_ARN")?,
        })
    }
}

/// The event bus domain events go to.
pub fn event_bus(get: impl Fn(&str) -> Option<String>) -> Result<String, InvalidValue> {
    required(&get, "EVENT_BUS_NAME")
}

/// The site URL for links in SMS and push texts, refused when it would push a reminder past one
/// SMS segment.
pub fn sms_site_url(app: &AppConfig) -> Result<String, InvalidValue> {
    if app.site_url.len() > MAX_SITE_URL_FOR_ONE_SEGMENT || !app.site_url.is_ascii() {
        return Err(InvalidValue::new(
            "SITE_URL",
            format!(
                "must be ASCII and at most {MAX_SITE_URL_FOR_ONE_SEGMENT} characters, so a reminder fits one SMS"
            ),
        ));
    }
    Ok(app.site_url.clone())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn the_schedule_target_needs_all_its_arns() {
        let full = [
            (
                "REMINDER_FUNCTION_ARN",
                "arn:aws:lambda:eu-west-1:123456789012:function:send-reminder",
            ),
            (
                "SCHEDULER_ROLE_ARN",
                "arn:aws:iam::123456789012:role/scheduler",
            ),
            (
                "REMINDER_DLQ_ARN",
                "arn:aws:sqs:eu-west-1:123456789012:reminders-dlq",
            ),
        ];
        let target = ScheduleTarget::from_lookup(lookup(&full)).unwrap();
        assert_eq!(target.group, DEFAULT_SCHEDULE_GROUP);
        for missing in 0..full.len() {
            let mut partial = full.to_vec();
            partial.remove(missing);
            assert!(ScheduleTarget::from_lookup(lookup(&partial)).is_err());
        }
        let mut bad = full.to_vec();
        bad.push(("SCHEDULE_GROUP", "no spaces allowed"));
        assert!(ScheduleTarget::from_lookup(lookup(&bad)).is_err());
        bad[0] = ("REMINDER_FUNCTION_ARN", "send-reminder");
        bad.pop();
        assert!(ScheduleTarget::from_lookup(lookup(&bad)).is_err());
    }

    #[test]
    fn push_platforms_are_optional_but_checked() {
        assert_eq!(
            PushApps::from_lookup(lookup(&[])).unwrap(),
            PushApps::default()
        );
        let apps = PushApps::from_lookup(lookup(&[(
            "SNS_FCM_APPLICATION_ARN",
            "arn:aws:sns:eu-west-1:123456789012:app/GCM/medichain",
        )]))
        .unwrap();
        assert!(apps.apns.is_none() && apps.fcm.is_some());
        assert!(PushApps::from_lookup(lookup(&[("SNS_APNS_APPLICATION_ARN", "x")])).is_err());
    }

    #[test]
    fn site_urls_too_long_for_one_sms_are_refused() {
        let mut app = AppConfig {
            site_url: "https://d111111abcdef8.cloudfront.net".into(),
            ..AppConfig::default()
        };
        assert!(sms_site_url(&app).is_ok());
        app.site_url = format!("https://{}.example.org", "x".repeat(60));
        assert!(sms_site_url(&app).is_err());
        assert!(event_bus(lookup(&[])).is_err());
    }
}
