//! SMS and mobile push through SNS. SMS are published to the phone number as `Transactional` (the
//! higher-reliability route, meant for time-critical messages); push messages go to the device's
//! platform endpoint with a payload for each platform. A disabled endpoint (app uninstalled, token
//! expired) is reported, not raised.

use async_trait::async_trait;
use aws_sdk_sns::error::ProvideErrorMetadata;
use aws_sdk_sns::types::MessageAttributeValue;
use aws_sdk_sns::Client;

use super::outbound::outbound_error;
use crate::config::reminders::PushApps;
use crate::domain::device::{DeviceToken, PushEndpoint, PushPlatform};
use crate::domain::user::PhoneNumber;
use crate::domain::UserId;
use crate::ports::{MessageContext, Notifier, OutboundError, PushOutcome, PushRegistrar};

pub const SMS_TYPE_ATTRIBUTE: &str = "AWS.SNS.SMS.SMSType";

#[derive(Debug, Clone)]
pub struct SnsNotifier {
    client: Client,
    apps: PushApps,
}

impl SnsNotifier {
    pub fn new(client: Client, apps: PushApps) -> Self {
        Self { client, apps }
    }
}

/// The message for a platform endpoint: the text as the alert on iOS, as the notification body on
/// Android, and as is for anything else.
pub fn push_payload(text: &str) -> String {
    let apns = serde_json::json!({ "aps": { "alert": text, "sound": "default" } }).to_string();
    let fcm =
        serde_json::json!({ "notification": { "title": "MediChain", "body": text } }).to_string();
    serde_json::json!({
        "default": text,
        "APNS": apns,
        "APNS_SANDBOX": apns,
        "GCM": fcm,
    })
    .to_string()
}

/// SNS refuses a second endpoint for a token with other attributes and names the existing one in
/// its message: "... Endpoint `<arn>` already exists with the same Token, but different attributes."
fn existing_endpoint(message: &str) -> Option<String> {
    let rest = &message[message.find("Endpoint ")? + "Endpoint ".len()..];
    let arn = &rest[..rest.find(' ')?];
    arn.starts_with("arn:").then(|| arn.to_owned())
}

#[async_trait]
impl Notifier for SnsNotifier {
    async fn send_sms(
        &self,
        to: &PhoneNumber,
        text: &str,
        context: &MessageContext,
    ) -> Result<(), OutboundError> {
        let transactional = MessageAttributeValue::builder()
            .data_type("String")
            .string_value("Transactional")
            .build()
            .map_err(|e| OutboundError::Rejected(Box::new(e)))?;
        let out = self
            .client
            .publish()
            .phone_number(to.as_str())
            .message(text)
            .message_attributes(SMS_TYPE_ATTRIBUTE, transactional)
            .send()
            .await
            .map_err(outbound_error)?;
        tracing::info!(appointment_id = %context.appointment_id, recipient = %context.recipient, kind = %context.kind, message_id = out.message_id().unwrap_or(""), "SMS published");
        Ok(())
    }

    async fn send_push(
        &self,
        to: &PushEndpoint,
        text: &str,
        context: &MessageContext,
    ) -> Result<PushOutcome, OutboundError> {
        let sent = self
            .client
            .publish()
            .target_arn(&to.0)
            .message_structure("json")
            .message(push_payload(text))
            .send()
            .await;
        match sent {
            Ok(out) => {
                tracing::info!(appointment_id = %context.appointment_id, recipient = %context.recipient, kind = %context.kind, message_id = out.message_id().unwrap_or(""), "push published");
                Ok(PushOutcome::Delivered)
            }
            Err(e) if e.code() == Some("EndpointDisabled") => Ok(PushOutcome::EndpointDisabled),
            Err(e) => Err(outbound_error(e)),
        }
    }
}

#[async_trait]
impl PushRegistrar for SnsNotifier {
    async fn create_endpoint(
        &self,
        token: &DeviceToken,
        _user: &UserId,
    ) -> Result<PushEndpoint, OutboundError> {
        let app = match token.platform() {
            PushPlatform::Apns => self.apps.apns.as_ref(),
            PushPlatform::Fcm => self.apps.fcm.as_ref(),
        }
        .ok_or(OutboundError::NotConfigured(match token.platform() {
            PushPlatform::Apns => "APNs push",
            PushPlatform::Fcm => "FCM push",
        }))?;
        let created = self
            .client
            .create_platform_endpoint()
            .platform_application_arn(app)
            .token(token.as_str())
            .send()
            .await;
        let arn = match created {
            Ok(out) => out.endpoint_arn.ok_or_else(|| {
                OutboundError::Rejected("CreatePlatformEndpoint returned no ARN".into())
            })?,
            Err(e) => match e.message().and_then(existing_endpoint) {
                Some(arn) if e.code() == Some("InvalidParameter") => arn,
                _ => return Err(outbound_error(e)),
            },
        };
        // The app registering again means the token works again: a disabled endpoint is enabled.
        self.client
            .set_endpoint_attributes()
            .endpoint_arn(&arn)
            .attributes("Enabled", "true")
            .attributes("Token", token.as_str())
            .send()
            .await
            .map_err(outbound_error)?;
        Ok(PushEndpoint(arn))
    }

    async fn delete_endpoint(&self, endpoint: &PushEndpoint) -> Result<(), OutboundError> {
        // DeleteEndpoint is idempotent in SNS.
        self.client
            .delete_endpoint()
            .endpoint_arn(&endpoint.0)
            .send()
            .await
            .map_err(outbound_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_payloads_carry_the_text_for_every_platform() {
        let payload: serde_json::Value =
            serde_json::from_str(&push_payload("Starts at 14:30. Join: https://x/a")).unwrap();
        assert_eq!(payload["default"], "Starts at 14:30. Join: https://x/a");
        let apns: serde_json::Value =
            serde_json::from_str(payload["APNS"].as_str().unwrap()).unwrap();
        assert_eq!(apns["aps"]["alert"], "Starts at 14:30. Join: https://x/a");
        let fcm: serde_json::Value =
            serde_json::from_str(payload["GCM"].as_str().unwrap()).unwrap();
        assert_eq!(
            fcm["notification"]["body"],
            "Starts at 14:30. Join: https://x/a"
        );
    }

    #[test]
    fn the_existing_endpoint_is_read_from_the_duplicate_token_error() {
        let message = "Invalid parameter: Token Reason: Endpoint arn:aws:sns:eu-west-1:123456789012:endpoint/APNS/medichain/1f2e already exists with the same Token, but different attributes.";
        assert_eq!(
            existing_endpoint(message).as_deref(),
            Some("arn:aws:sns:eu-west-1:123456789012:endpoint/APNS/medichain/1f2e")
        );
        assert_eq!(existing_endpoint("Invalid parameter: Token"), None);
    }
}
