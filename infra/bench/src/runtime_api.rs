//! A loopback stand-in for the Lambda Runtime API (`/2018-06-01/runtime/...`), enough for
//! `lambda_runtime` to start, poll, answer and report errors. It notes when the function first
//! polls for an event (the end of its init phase) and how long each invocation takes from the
//! moment the event is handed over to the moment the response comes back.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::{mpsc, oneshot};

const PREFIX: &str = "/2018-06-01/runtime";

/// What came back for one event.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// From handing the event over (the `next` response) to receiving the answer.
    pub latency: Duration,
    /// `true` for `/response`, `false` for `/error`.
    pub ok: bool,
    pub body: Bytes,
}

struct Pending {
    event: Bytes,
    done: oneshot::Sender<Outcome>,
}

struct InFlight {
    sent: Instant,
    done: oneshot::Sender<Outcome>,
}

struct Shared {
    first_poll: Mutex<Option<oneshot::Sender<Instant>>>,
    queue: tokio::sync::Mutex<mpsc::Receiver<Pending>>,
    in_flight: Mutex<HashMap<String, InFlight>>,
    init_error: Mutex<Option<String>>,
    polls: AtomicU64,
    next_id: AtomicU64,
}

/// One fake Runtime API on a free loopback port, for one function process.
pub struct FakeRuntime {
    addr: SocketAddr,
    shared: Arc<Shared>,
    events: mpsc::Sender<Pending>,
    first_poll: Option<oneshot::Receiver<Instant>>,
    server: tokio::task::JoinHandle<()>,
}

impl FakeRuntime {
    pub async fn start() -> anyhow::Result<Self> {
        let (first_tx, first_rx) = oneshot::channel();
        let (events, queue) = mpsc::channel(1);
        let shared = Arc::new(Shared {
            first_poll: Mutex::new(Some(first_tx)),
            queue: tokio::sync::Mutex::new(queue),
            in_flight: Mutex::new(HashMap::new()),
            init_error: Mutex::new(None),
            polls: AtomicU64::new(0),
            next_id: AtomicU64::new(1),
        });
        let app = Router::new()
            .route(&format!("{PREFIX}/invocation/next"), get(next))
            .route(
                &format!("{PREFIX}/invocation/{{id}}/response"),
                post(response),
            )
            .route(&format!("{PREFIX}/invocation/{{id}}/error"), post(error))
            .route(&format!("{PREFIX}/init/error"), post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            addr,
            shared,
            events,
            first_poll: Some(first_rx),
            server,
        })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    pub fn socket_addr(&self) -> SocketAddr {
        self.addr
    }

    /// When the function first asked for an event: the end of its init phase. `None` if it did
    /// not within `timeout` (it crashed, or reported an init error).
    pub async fn first_poll(&mut self, timeout: Duration) -> Option<Instant> {
        let rx = self.first_poll.take()?;
        tokio::time::timeout(timeout, rx).await.ok()?.ok()
    }

    /// What the function reported to `/init/error`, if anything.
    pub fn init_error(&self) -> Option<String> {
        self.shared.init_error.lock().ok().and_then(|e| e.clone())
    }

    /// Hands `event` to the function and waits for its answer.
    pub async fn invoke(&self, event: Bytes, timeout: Duration) -> anyhow::Result<Outcome> {
        let (done, answer) = oneshot::channel();
        self.events
            .send(Pending { event, done })
            .await
            .map_err(|_| anyhow::anyhow!("the fake runtime stopped"))?;
        match tokio::time::timeout(timeout, answer).await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(_)) => anyhow::bail!("the invocation was dropped"),
            Err(_) => anyhow::bail!("no answer within {timeout:?}"),
        }
    }

    pub fn polls(&self) -> u64 {
        self.shared.polls.load(Ordering::Relaxed)
    }
}

impl Drop for FakeRuntime {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    shared.polls.fetch_add(1, Ordering::Relaxed);
    if let Some(tx) = shared.first_poll.lock().ok().and_then(|mut f| f.take()) {
        let _ = tx.send(Instant::now());
    }
    // One poller at a time, as in Lambda: the lock is held while waiting for the next event.
    let pending = shared.queue.lock().await.recv().await;
    let Some(Pending { event, done }) = pending else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let id = format!(
        "bench-{:08}",
        shared.next_id.fetch_add(1, Ordering::Relaxed)
    );
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() + 30_000)
        .unwrap_or_default();
    let mut response = event.into_response();
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    for (name, value) in [
        ("lambda-runtime-aws-request-id", id.clone()),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:bench".to_owned(),
        ),
        (
            "lambda-runtime-trace-id",
            "Root=1-00000000-000000000000000000000000;Sampled=0".to_owned(),
        ),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
    if let Ok(mut in_flight) = shared.in_flight.lock() {
        in_flight.insert(
            id,
            InFlight {
                sent: Instant::now(),
                done,
            },
        );
    }
    response
}

fn finish(shared: &Shared, id: &str, ok: bool, body: Bytes) -> StatusCode {
    let received = Instant::now();
    let Some(flight) = shared.in_flight.lock().ok().and_then(|mut m| m.remove(id)) else {
        return StatusCode::BAD_REQUEST;
    };
    let _ = flight.done.send(Outcome {
        latency: received - flight.sent,
        ok,
        body,
    });
    StatusCode::ACCEPTED
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    finish(&shared, &id, true, body)
}

async fn error(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    finish(&shared, &id, false, body)
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    if let Ok(mut e) = shared.init_error.lock() {
        *e = Some(String::from_utf8_lossy(&body).into_owned());
    }
    StatusCode::ACCEPTED
}
