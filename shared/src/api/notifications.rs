//! The caller's in-app notifications: newest first with the unread count, and marking one read.
//! Notifications are keyed by their user, so nobody can see or mark another user's.

use chrono::{DateTime, Utc};
use http::StatusCode;
use serde::Serialize;

use super::appointments::page_request;
use super::{ApiError, ApiRequest, ApiResponse, Deps};
use crate::domain::notification::{
    Notification, NotificationAction, NotificationId, NotificationMetadata, NotificationType,
    Priority,
};
use crate::ports::Page;

/// A notification as its recipient sees it (the recipient is the caller, so no user id).
#[derive(Debug, Serialize)]
pub struct NotificationView {
    id: NotificationId,
    #[serde(rename = "type")]
    kind: NotificationType,
    title: String,
    message: String,
    priority: Priority,
    action: NotificationAction,
    metadata: NotificationMetadata,
    read: bool,
    created_at: DateTime<Utc>,
}

impl From<Notification> for NotificationView {
    fn from(n: Notification) -> Self {
        Self {
            id: n.id,
            kind: n.kind,
            title: n.title,
            message: n.message,
            priority: n.priority,
            action: n.action,
            metadata: n.metadata,
            read: n.read,
            created_at: n.created_at,
        }
    }
}

#[derive(Debug, Serialize)]
struct NotificationList {
    items: Vec<NotificationView>,
    next_cursor: Option<String>,
    unread_count: u64,
}

/// `GET /api/notifications?limit&cursor`.
pub async fn list(deps: &Deps, req: ApiRequest) -> Result<ApiResponse, ApiError> {
    let caller = req.caller()?;
    let page = page_request(&req)?;
    let Page { items, next_cursor } = deps
        .notifications
        .notifications_of(&caller.id, page)
        .await?;
    let unread_count = deps.notifications.unread_count(&caller.id).await?;
    ApiResponse::json(
        StatusCode::OK,
        &NotificationList {
            items: items.into_iter().map(NotificationView::from).collect(),
            next_cursor,
            unread_count,
        },
    )
}

/// `POST /api/notifications/{id}/read`: 200 with the notification, 404 unless it is the caller's.
/// Marking one that is read already is fine (the web app may retry).
pub async fn mark_read(deps: &Deps, req: ApiRequest) -> Result<ApiResponse, ApiError> {
    let caller = req.caller()?;
    let id = NotificationId::parse(req.path_param("id")?)
        .map_err(|_| ApiError::NotFound("notification"))?;
    let notification = deps
        .notifications
        .mark_read(&caller.id, &id)
        .await?
        .ok_or(ApiError::NotFound("notification"))?;
    ApiResponse::json(StatusCode::OK, &NotificationView::from(notification))
}
