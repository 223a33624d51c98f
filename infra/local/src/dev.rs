//! Local-only endpoints under `/dev`: the demo users and sign-in (standing in for Cognito's
//! hosted UI). They exist only in the local server, never in AWS.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use http::StatusCode;
use medichain::api::{ApiError, ApiResponse};
use medichain::domain::{UserId, UserProfile};
use serde::{Deserialize, Serialize};

use crate::auth::role_name;
use crate::{seed, to_axum, AppState};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/dev/users", get(users))
        .route("/dev/login", post(login))
}

#[derive(Serialize)]
struct DemoUser {
    id: UserId,
    role: &'static str,
    name: String,
}

impl From<&UserProfile> for DemoUser {
    fn from(u: &UserProfile) -> Self {
        Self {
            id: u.id.clone(),
            role: role_name(u.role),
            name: u.name.clone(),
        }
    }
}

async fn demo_users(state: &AppState) -> Result<Vec<UserProfile>, ApiError> {
    let mut users = Vec::new();
    for id in seed::demo_user_ids() {
        let id = UserId::parse(id).map_err(ApiError::internal)?;
        if let Some(user) = state.deps.directory.get_user(&id).await? {
            users.push(user);
        }
    }
    Ok(users)
}

async fn users(State(state): State<Arc<AppState>>) -> Response {
    let result = async {
        let users: Vec<DemoUser> = demo_users(&state)
            .await?
            .iter()
            .map(DemoUser::from)
            .collect();
        ApiResponse::json(StatusCode::OK, &users)
    }
    .await;
    to_axum(result.unwrap_or_else(ApiError::into_response))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    user_id: String,
}

#[derive(Serialize)]
struct LoginResponse {
    token: String,
    user: DemoUser,
}

async fn login(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let result = async {
        let body: LoginBody = serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("expected {{\"user_id\": \"...\"}}: {e}")))?;
        let user = demo_users(&state)
            .await?
            .into_iter()
            .find(|u| u.id.as_str() == body.user_id)
            .ok_or(ApiError::NotFound("demo user"))?;
        let token = state
            .auth
            .sign(&user)
            .map_err(|e| ApiError::internal(e.to_string()))?;
        tracing::info!(user_id = %user.id, role = %user.role, "demo sign-in");
        ApiResponse::json(
            StatusCode::OK,
            &LoginResponse {
                token,
                user: DemoUser::from(&user),
            },
        )
    }
    .await;
    to_axum(result.unwrap_or_else(ApiError::into_response))
}
