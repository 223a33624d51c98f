//! The one error type at the HTTP boundary. Every failure becomes an RFC 9457
//! `application/problem+json` body with the right status; internal causes are logged with their
//! chain and never shown to the caller.

use std::error::Error as _;

use http::{header, HeaderValue, StatusCode};
use serde::Serialize;

use super::ApiResponse;
use crate::domain::InvalidValue;
use crate::ports::{BoxError, StoreError};

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{detail}")]
    Conflict { kind: &'static str, detail: String },
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{detail}")]
    Unprocessable { kind: &'static str, detail: String },
    #[error("too many requests")]
    TooManyRequests {
        retry_after_secs: u64,
        detail: String,
    },
    #[error("service temporarily unavailable")]
    Unavailable {
        retry_after_secs: u64,
        #[source]
        source: BoxError,
    },
    #[error("internal error")]
    Internal(#[source] BoxError),
    /// A client error whose problem document carries extension members (RFC 9457 section 3.2),
    /// such as when a room opens. `status` must be a 4xx.
    #[error("{detail}")]
    Extended {
        status: StatusCode,
        kind: &'static str,
        detail: String,
        extensions: serde_json::Map<String, serde_json::Value>,
    },
}

/// The problem document (RFC 9457).
#[derive(Debug, Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: String,
    #[serde(flatten)]
    extensions: serde_json::Map<String, serde_json::Value>,
}

impl ApiError {
    pub fn invalid(value: InvalidValue) -> Self {
        ApiError::Unprocessable {
            kind: "invalid-value",
            detail: value.to_string(),
        }
    }

    pub fn internal(e: impl Into<BoxError>) -> Self {
        ApiError::Internal(e.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Extended { status, .. } => *status,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad-request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not-found",
            ApiError::Conflict { kind, .. }
            | ApiError::Unprocessable { kind, .. }
            | ApiError::Extended { kind, .. } => kind,
            ApiError::PayloadTooLarge(_) => "payload-too-large",
            ApiError::UnsupportedMediaType(_) => "unsupported-media-type",
            ApiError::TooManyRequests { .. } => "too-many-requests",
            ApiError::Unavailable { .. } => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    /// The response the caller sees. Server-side failures are logged here, with their causes.
    pub fn into_response(self) -> ApiResponse {
        let status = self.status();
        let detail = match &self {
            ApiError::TooManyRequests { detail, .. } => detail.clone(),
            ApiError::Unavailable { .. } => {
                "The service is busy. Please retry in a moment.".to_owned()
            }
            ApiError::Internal(_) => "Something went wrong on our side.".to_owned(),
            other => other.to_string(),
        };
        if status.is_server_error() {
            let mut chain = String::new();
            let mut cause = self.source();
            while let Some(c) = cause {
                chain.push_str(": ");
                chain.push_str(&c.to_string());
                cause = c.source();
            }
            tracing::error!(status = status.as_u16(), error = %self, causes = %chain, "request failed");
        }
        let extensions = match &self {
            ApiError::Extended { extensions, .. } => extensions.clone(),
            _ => serde_json::Map::new(),
        };
        let problem = Problem {
            kind: format!("/problems/{}", self.kind()),
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail,
            extensions,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = ApiResponse::new(status, body.into());
        response
            .headers
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let ApiError::TooManyRequests {
            retry_after_secs, ..
        }
        | ApiError::Unavailable {
            retry_after_secs, ..
        } = self
        {
            response
                .headers
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::SlotTaken => ApiError::Conflict {
                kind: "slot-taken",
                detail: "That slot has just been booked. Please pick another one.".to_owned(),
            },
            StoreError::StaleVersion => ApiError::Conflict {
                kind: "concurrent-change",
                detail: "The appointment changed while you were editing it. Reload and try again."
                    .to_owned(),
            },
            StoreError::AlreadyExists => ApiError::Conflict {
                kind: "already-exists",
                detail: "That item exists already.".to_owned(),
            },
            StoreError::IdempotencyKeyInUse => ApiError::Conflict {
                kind: "idempotency-key-in-use",
                detail: "This Idempotency-Key belongs to another request.".to_owned(),
            },
            StoreError::InvalidCursor => {
                ApiError::BadRequest("cursor: not a cursor this API handed out".to_owned())
            }
            // Booking maps it with the caller's clock (api::appointments); this is the fallback.
            StoreError::BookingCapReached { .. } => ApiError::TooManyRequests {
                retry_after_secs: 3600,
                detail: "You hold the most upcoming appointments one patient may have.".to_owned(),
            },
            StoreError::Unavailable(source) => ApiError::Unavailable {
                retry_after_secs: 2,
                source,
            },
            other => ApiError::Internal(Box::new(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_carry_status_type_and_content_type() {
        let r = ApiError::from(StoreError::SlotTaken).into_response();
        assert_eq!(r.status, StatusCode::CONFLICT);
        assert_eq!(r.headers[header::CONTENT_TYPE], PROBLEM_JSON);
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["type"], "/problems/slot-taken");
        assert_eq!(body["status"], 409);
    }

    #[test]
    fn internal_causes_are_not_shown_to_the_caller() {
        let r = ApiError::internal("table medichain-prod: access denied for arn:aws:iam::123")
            .into_response();
        let body = String::from_utf8(r.body.to_vec()).unwrap();
        assert!(!body.contains("arn:aws"), "{body}");
        assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn extension_members_sit_beside_the_standard_ones() {
        let mut extensions = serde_json::Map::new();
        extensions.insert("opens_at".into(), "2030-01-01T09:45:00Z".into());
        let r = ApiError::Extended {
            status: StatusCode::FORBIDDEN,
            kind: "room-not-open",
            detail: "The room opens at 09:45 UTC.".into(),
            extensions,
        }
        .into_response();
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["type"], "/problems/room-not-open");
        assert_eq!(body["opens_at"], "2030-01-01T09:45:00Z");
        assert_eq!(body["status"], 403);
    }

    #[test]
    fn unavailable_tells_when_to_retry() {
        let r = ApiError::from(StoreError::Unavailable("throttled".into())).into_response();
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers[header::RETRY_AFTER], "2");
    }
}
