//! The caller's own profile (display name, time zone, phone for SMS reminders and the patient's
//! opt-in) and the mobile devices registered for push reminders. The profile is created from the
//! caller's claims on first sight.

use chrono::{DateTime, Utc};
use http::StatusCode;
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiRequest, ApiResponse, Deps};
use crate::domain::device::{Device, DeviceId, DeviceToken, PushPlatform};
use crate::domain::doctor::TimeZone;
use crate::domain::user::PhoneNumber;
use crate::domain::{Caller, Role, UserId, UserProfile};
use crate::ports::OutboundError;

#[derive(Debug, Serialize)]
struct ProfileView {
    id: UserId,
    role: Role,
    name: String,
    time_zone: TimeZone,
    phone: Option<PhoneNumber>,
    sms_opt_in: bool,
}

impl From<UserProfile> for ProfileView {
    fn from(p: UserProfile) -> Self {
        Self {
            id: p.id,
            role: p.role,
            name: p.name,
            time_zone: p.time_zone,
            phone: p.phone,
            sms_opt_in: p.sms_opt_in,
        }
    }
}

/// The caller's profile, created from the claims when there is none yet. A doctor starts in the
/// time zone of their directory entry; anyone else in UTC until they choose.
async fn profile_of(deps: &Deps, caller: &Caller) -> Result<UserProfile, ApiError> {
    if let Some(p) = deps.directory.get_user(&caller.id).await? {
        return Ok(p);
    }
    let time_zone = match caller.role {
        Role::Doctor => deps
            .directory
            .get_doctor(&caller.id)
            .await?
            .map(|d| d.time_zone)
            .unwrap_or_default(),
        Role::Patient => TimeZone::default(),
    };
    let fresh = UserProfile {
        id: caller.id.clone(),
        role: caller.role,
        name: caller.name.clone(),
        time_zone,
        phone: None,
        sms_opt_in: false,
    };
    Ok(deps.profiles.create_profile_if_absent(&fresh).await?)
}

/// `GET /api/me`.
pub async fn get(deps: &Deps, req: ApiRequest) -> Result<ApiResponse, ApiError> {
    let caller = req.caller()?;
    let profile = profile_of(deps, caller).await?;
    ApiResponse::json(StatusCode::OK, &ProfileView::from(profile))
}

/// The fields a user may change; a field left out keeps its value, `"phone": null` removes the
/// number.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileUpdate {
    #[serde(default, deserialize_with = "present")]
    phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "not_null")]
    sms_opt_in: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    time_zone: Option<String>,
}

/// A field that may be left out but not sent as `null` (only `phone` has a meaning for null):
/// accepting it silently would let a client believe it cleared something.
fn not_null<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// Tells `"phone": null` (remove) apart from no `phone` at all (keep).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// `PUT /api/me {phone, sms_opt_in, time_zone}`.
pub async fn update(deps: &Deps, req: ApiRequest) -> Result<ApiResponse, ApiError> {
    let caller = req.caller()?;
    let body: ProfileUpdate = req.json()?;
    let mut profile = profile_of(deps, caller).await?;
    if let Some(phone) = &body.phone {
        profile.phone = phone
            .as_deref()
            .map(PhoneNumber::parse)
            .transpose()
            .map_err(ApiError::invalid)?;
    }
    if let Some(zone) = &body.time_zone {
        profile.time_zone = TimeZone::parse(zone).map_err(ApiError::invalid)?;
    }
    if let Some(opt_in) = body.sms_opt_in {
        profile.sms_opt_in = opt_in;
    }
    if profile.sms_opt_in && profile.phone.is_none() {
        return Err(ApiError::Unprocessable {
            kind: "invalid-value",
            detail: "sms_opt_in: SMS reminders need a phone number".into(),
        });
    }
    deps.directory.put_user(&profile).await?;
    tracing::info!(user_id = %profile.id, "profile updated");
    ApiResponse::json(StatusCode::OK, &ProfileView::from(profile))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviceBody {
    platform: PushPlatform,
    token: String,
}

#[derive(Debug, Serialize)]
struct DeviceView {
    id: DeviceId,
    platform: PushPlatform,
    created_at: DateTime<Utc>,
}

impl From<Device> for DeviceView {
    fn from(d: Device) -> Self {
        Self {
            id: d.id,
            platform: d.platform,
            created_at: d.created_at,
        }
    }
}

impl From<OutboundError> for ApiError {
    fn from(e: OutboundError) -> Self {
        match e {
            OutboundError::Unavailable(source) => ApiError::Unavailable {
                retry_after_secs: 2,
                source,
            },
            OutboundError::NotConfigured(what) => ApiError::Unprocessable {
                kind: "channel-not-available",
                detail: format!("This deployment does not offer {what} notifications."),
            },
            OutboundError::Rejected(source) => ApiError::Internal(source),
        }
    }
}

/// `POST /api/me/devices {platform, token}`: registers a phone for push reminders. The same token
/// registered again is the same device.
pub async fn register_device(deps: &Deps, req: ApiRequest) -> Result<ApiResponse, ApiError> {
    let caller = req.caller()?;
    let body: DeviceBody = req.json()?;
    let token = DeviceToken::parse(body.platform, &body.token).map_err(ApiError::invalid)?;
    let id = token.device_id(&caller.id);
    let existing = deps.devices.devices_of(&caller.id).await?;
    if let Some(device) = existing.iter().find(|d| d.id == id) {
        return ApiResponse::json(StatusCode::CREATED, &DeviceView::from(device.clone()));
    }
    if existing.len() >= Device::MAX_PER_USER {
        return Err(ApiError::Conflict {
            kind: "too-many-devices",
            detail: format!(
                "At most {} devices can receive reminders; remove one first.",
                Device::MAX_PER_USER
            ),
        });
    }
    let endpoint = deps.push.create_endpoint(&token, &caller.id).await?;
    let device = Device {
        id,
        user_id: caller.id.clone(),
        platform: token.platform(),
        endpoint,
        created_at: deps.clock.now(),
    };
    let stored = deps.devices.register_device(&device).await?;
    tracing::info!(user_id = %caller.id, device_id = %stored.id, platform = %stored.platform, "device registered");
    ApiResponse::json(StatusCode::CREATED, &DeviceView::from(stored))
}

/// `DELETE /api/me/devices/{id}`: 204; 404 unless it is one of the caller's devices.
pub async fn remove_device(deps: &Deps, req: ApiRequest) -> Result<ApiResponse, ApiError> {
    let caller = req.caller()?;
    let id = DeviceId::parse(req.path_param("id")?).map_err(|_| ApiError::NotFound("device"))?;
    let removed = deps
        .devices
        .remove_device(&caller.id, &id)
        .await?
        .ok_or(ApiError::NotFound("device"))?;
    // The registry no longer lists it, so nothing is pushed there again; a failure to delete the
    // endpoint itself only leaves an unused endpoint behind.
    if let Err(e) = deps.push.delete_endpoint(&removed.endpoint).await {
        tracing::warn!(device_id = %id, error = %e, "could not delete the push endpoint");
    }
    tracing::info!(user_id = %caller.id, device_id = %id, "device removed");
    Ok(ApiResponse::new(
        StatusCode::NO_CONTENT,
        bytes::Bytes::new(),
    ))
}
