//! Local-only endpoints for reminders: the outbox of SMS and push messages "sent"
//! (`GET /dev/outbox`) and the dev clock (`GET /dev/clock`, `POST /dev/clock/advance`), which
//! fast-forwards the whole product and fires every reminder that fell due before answering.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use http::StatusCode;
use medichain::adapters::embedded::OutboxMessage;
use medichain::api::{ApiError, ApiResponse};
use medichain::clock::Clock;
use serde::{Deserialize, Serialize};

use crate::{to_axum, AppState};

/// The furthest one advance may jump: past any appointment that can be booked.
const MAX_ADVANCE_SECONDS: i64 = 400 * 24 * 60 * 60;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/dev/outbox", get(outbox))
        .route("/dev/clock", get(clock))
        .route("/dev/clock/advance", post(advance))
}

#[derive(Serialize)]
struct OutboxList {
    items: Vec<OutboxMessage>,
}

async fn outbox(State(state): State<Arc<AppState>>) -> Response {
    let result = async {
        let items = state.outbox.messages().await?;
        ApiResponse::json(StatusCode::OK, &OutboxList { items })
    }
    .await;
    to_axum(result.unwrap_or_else(ApiError::into_response))
}

#[derive(Serialize)]
struct Now {
    now: DateTime<Utc>,
}

async fn clock(State(state): State<Arc<AppState>>) -> Response {
    let now = Now {
        now: state.clock.now(),
    };
    to_axum(ApiResponse::json(StatusCode::OK, &now).unwrap_or_else(ApiError::into_response))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvanceBody {
    seconds: i64,
}

async fn advance(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let result = async {
        let body: AdvanceBody = serde_json::from_slice(&body).map_err(|e| ApiError::Unprocessable {
            kind: "invalid-body",
            detail: format!("expected {{\"seconds\": N}}: {e}"),
        })?;
        if !(0..=MAX_ADVANCE_SECONDS).contains(&body.seconds) {
            return Err(ApiError::Unprocessable {
                kind: "invalid-value",
                detail: format!("seconds: must be from 0 to {MAX_ADVANCE_SECONDS} (the clock only moves forward)"),
            });
        }
        state.clock.advance(Duration::seconds(body.seconds));
        let pass = state.worker.run_until_idle().await;
        let now = state.clock.now();
        tracing::info!(%now, changes = pass.changes, reminders = pass.reminders, "dev clock advanced");
        ApiResponse::json(StatusCode::OK, &Now { now })
    }
    .await;
    to_axum(result.unwrap_or_else(ApiError::into_response))
}
