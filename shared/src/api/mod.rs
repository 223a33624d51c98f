//! The HTTP API, independent of how requests arrive: the local server and every Lambda function
//! turn their request into an [`ApiRequest`], call the route's handler from the route table
//! ([`routes`]), and send the [`ApiResponse`] back.

pub mod appointments;
pub mod audit;
pub mod auth;
pub mod calendar;
pub mod doctors;
pub mod error;
pub mod fhir;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod me;
pub mod notifications;
pub mod request;
pub mod routes;
pub mod video;

use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, StatusCode};
use serde::Serialize;

pub use auth::{caller_from_claims, AuthProblem};
pub use error::ApiError;
pub use request::ApiRequest;

use crate::clock::Clock;
use crate::config::AppConfig;
use crate::ports::{
    AppointmentStore, AuditLog, DeviceRegistry, Directory, IdempotencyStore, NoPush,
    NotificationStore, ProfileStore, PushRegistrar,
};

/// What the handlers need, built once at cold start (or server start) and shared by reference.
#[derive(Clone)]
pub struct Deps {
    pub directory: Arc<dyn Directory>,
    pub appointments: Arc<dyn AppointmentStore>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub notifications: Arc<dyn NotificationStore>,
    pub profiles: Arc<dyn ProfileStore>,
    pub devices: Arc<dyn DeviceRegistry>,
    /// Who read or changed which appointment (see `api::audit`).
    pub audit: Arc<dyn AuditLog>,
    /// Makes push endpoints for registered devices (SNS in AWS, the outbox locally).
    pub push: Arc<dyn PushRegistrar>,
    pub clock: Arc<dyn Clock>,
    pub config: AppConfig,
}

impl Deps {
    /// Every store port served by one object (the embedded store, or the DynamoDB store).
    pub fn from_store<S>(store: S, clock: Arc<dyn Clock>, config: AppConfig) -> Self
    where
        S: Directory
            + AppointmentStore
            + IdempotencyStore
            + NotificationStore
            + ProfileStore
            + DeviceRegistry
            + AuditLog
            + Clone
            + 'static,
    {
        Self {
            directory: Arc::new(store.clone()),
            appointments: Arc::new(store.clone()),
            idempotency: Arc::new(store.clone()),
            notifications: Arc::new(store.clone()),
            profiles: Arc::new(store.clone()),
            devices: Arc::new(store.clone()),
            audit: Arc::new(store),
            push: Arc::new(NoPush),
            clock,
            config,
        }
    }

    /// The same dependencies with doctor lookups served from memory for up to `ttl` (see
    /// [`CachedDirectory`](crate::adapters::cached_directory::CachedDirectory)): what the Lambda
    /// functions use, so a booking does not read the doctor.
    pub fn with_directory_cache(mut self, ttl: std::time::Duration) -> Self {
        self.directory = Arc::new(crate::adapters::cached_directory::CachedDirectory::new(
            self.directory,
            ttl,
        ));
        self
    }

    /// The same dependencies with push registration through `push` (without it, registering a
    /// device answers that push is not available).
    pub fn with_push(mut self, push: Arc<dyn PushRegistrar>) -> Self {
        self.push = push;
        self
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl ApiResponse {
    pub fn new(status: StatusCode, body: Bytes) -> Self {
        Self {
            status,
            headers: HeaderMap::new(),
            body,
        }
    }

    pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Result<Self, ApiError> {
        let body = serde_json::to_vec(value).map_err(ApiError::internal)?;
        let mut r = Self::new(status, body.into());
        r.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        Ok(r)
    }
}
