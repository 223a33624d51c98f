//! MediChain on one machine: the very same API handlers as the Lambda functions, wired to the
//! embedded SQLite store, behind one HTTP server that also serves the static site and the local
//! stand-ins for Cognito (`/dev/login`).

pub mod auth;
pub mod dev;
pub mod dev_reminders;
pub mod reminders;
pub mod seed;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodFilter, MethodRouter};
use axum::Router;
use http::{header, HeaderValue, StatusCode};
use medichain::adapters::aws::DynamoDbStore;
use medichain::adapters::embedded::{EmbeddedOutbox, EmbeddedStore};
use medichain::api::request::MAX_BODY_BYTES;
use medichain::api::routes::{self, Route};
use medichain::api::{ApiError, ApiRequest, ApiResponse, Deps};
use medichain::clock::DevClock;
use medichain::config::AppConfig;
use medichain::side_effects::EffectDeps;
use tower_http::services::{ServeDir, ServeFile};

use crate::auth::LocalAuth;
use crate::reminders::LocalWorker;

/// The OpenAPI description of `/api`, kept in the repo and served at `/openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("../../../docs/openapi.json");

#[derive(Debug, Clone)]
pub struct Options {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    pub site_dir: PathBuf,
    pub config: AppConfig,
    pub backend: Backend,
}

/// Where the API's data lives: the embedded SQLite file (the default), or a DynamoDB table
/// reached through the SDK's standard configuration (`AWS_ENDPOINT_URL` for moto, or a real
/// account). The local outbox (SMS, push, events) stays in the embedded file either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    Aws { table: String },
}

impl Options {
    /// The defaults of the run command: 127.0.0.1:3000, `./.data`, the repo's `static-site/`.
    pub fn defaults() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            data_dir: PathBuf::from(".data"),
            site_dir: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../static-site")),
            config: AppConfig::default(),
            backend: Backend::Embedded,
        }
    }
}

pub struct AppState {
    pub deps: Deps,
    pub auth: LocalAuth,
    pub clock: Arc<DevClock>,
    pub store: EmbeddedStore,
    /// Runs the side effects of changes and the due reminders (see [`reminders`]).
    pub worker: Arc<LocalWorker>,
    /// Where SMS and push messages go locally.
    pub outbox: EmbeddedOutbox,
}

/// A running server: its address and the task serving it.
pub struct Server {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Opens the store (seeding demo data on first start), binds, and serves in the background.
pub async fn start(options: Options) -> anyhow::Result<Server> {
    let store = EmbeddedStore::open(&options.data_dir)
        .with_context(|| format!("opening the database in {}", options.data_dir.display()))?;
    let auth = LocalAuth::load_or_create(&options.data_dir)?;
    let clock = Arc::new(DevClock::default());
    let mut config = options.config.clone();
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .with_context(|| format!("binding {}", options.addr))?;
    let addr = listener.local_addr()?;
    if config.site_url == AppConfig::default().site_url {
        config.site_url = format!("http://{addr}");
    }
    let site_url = config.site_url.clone();
    let outbox = EmbeddedOutbox::new(store.clone(), clock.clone());
    let deps = match &options.backend {
        Backend::Embedded => Deps::from_store(store.clone(), clock.clone(), config),
        Backend::Aws { table } => Deps::from_store(dynamodb(table).await?, clock.clone(), config),
    }
    .with_push(Arc::new(outbox.clone()));
    // With the embedded backend the store's change feed drives the same side effects as the
    // DynamoDB stream does in AWS; the outbox stands in for SNS and the event bus.
    let effects = EffectDeps::new(
        store.clone(),
        Arc::new(store.clone()),
        Arc::new(outbox.clone()),
        Arc::new(outbox.clone()),
        clock.clone(),
        site_url,
    );
    let worker = Arc::new(LocalWorker::new(store.clone(), effects));
    if seed::seed_if_empty(deps.directory.as_ref()).await? {
        tracing::info!("seeded demo doctors and patients");
    }
    let embedded = matches!(options.backend, Backend::Embedded);
    let state = Arc::new(AppState {
        deps,
        auth,
        clock,
        store,
        worker: worker.clone(),
        outbox,
    });
    let app = router(state.clone(), &options.site_dir);
    // The worker lives as long as the server task: aborting the task stops both.
    let task = tokio::spawn(async move {
        if !embedded {
            return axum::serve(listener, app).await;
        }
        tokio::select! {
            served = axum::serve(listener, app) => served,
            () = worker.run_forever() => Ok(()),
        }
    });
    Ok(Server { addr, state, task })
}

/// The DynamoDB store on `table`. Pointed at a local endpoint (moto, DynamoDB Local) the table
/// is created when missing; against AWS it must exist already (it comes from `template.yaml`).
async fn dynamodb(table: &str) -> anyhow::Result<DynamoDbStore> {
    let store = DynamoDbStore::connect(table).await;
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
        .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
        .unwrap_or_default();
    let authority = endpoint
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default();
    let local = ["127.0.0.1", "localhost", "[::1]"]
        .iter()
        .any(|host| authority == *host || authority.starts_with(&format!("{host}:")));
    if local && store.create_table_if_missing().await? {
        tracing::info!(table, endpoint, "created the DynamoDB table");
    }
    Ok(store)
}

pub fn router(state: Arc<AppState>, site_dir: &std::path::Path) -> Router {
    let mut by_path: HashMap<&'static str, MethodRouter<Arc<AppState>>> = HashMap::new();
    for route in routes::all() {
        let path = route.path;
        let filter = MethodFilter::try_from(route.method.clone())
            .unwrap_or_else(|_| panic!("unsupported method on {path}"));
        let route = Arc::new(route);
        let handler = move |State(state): State<Arc<AppState>>,
                            path_params: Result<Path<HashMap<String, String>>, PathRejection>,
                            RawQuery(query): RawQuery,
                            request: Request| {
            let route = Arc::clone(&route);
            async move { serve_api(&state, &route, path_params, query, request).await }
        };
        let entry = by_path.remove(path).unwrap_or_default();
        by_path.insert(path, entry.on(filter, handler));
    }
    let mut api = Router::new();
    for (path, method_router) in by_path {
        api = api.route(path, method_router);
    }
    let not_found_page = site_dir.join("404.html");
    let not_found = move || {
        let page = not_found_page.clone();
        async move {
            let body = tokio::fs::read(&page).await.unwrap_or_default();
            (
                StatusCode::NOT_FOUND,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                body,
            )
        }
    };
    let site = ServeDir::new(site_dir)
        .append_index_html_on_directories(true)
        .not_found_service(axum::handler::HandlerWithoutStateExt::into_service(
            not_found.clone(),
        ));
    // The site's own tooling (npm packages, browser tests) sits next to its pages but is not
    // part of the site, as it is not uploaded to S3.
    for tooling in [
        "/node_modules/{*rest}",
        "/tests/{*rest}",
        "/package.json",
        "/package-lock.json",
    ] {
        api = api.route(tooling, get(not_found.clone()));
    }
    api.route("/api/{*rest}", axum::routing::any(api_not_found))
        .route("/openapi.json", get(openapi))
        .route_service("/video/{room}", ServeFile::new(site_dir.join("video.html")))
        .merge(dev::routes())
        .merge(dev_reminders::routes())
        .method_not_allowed_fallback(method_not_allowed)
        .fallback_service(site)
        .with_state(state)
        .layer(axum::middleware::map_response(security_headers))
}

async fn serve_api(
    state: &AppState,
    route: &Route,
    path_params: Result<Path<HashMap<String, String>>, PathRejection>,
    query: Option<String>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let path_params = match path_params {
        Ok(Path(params)) => params,
        // Only a parameter that is not UTF-8 once decoded fails here (the route matched).
        Err(_) => lossy_path_params(route.path, parts.uri.path()),
    };
    // Read one byte past the limit so an oversized body is told apart from one at the limit.
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES + 1).await {
        Ok(b) => b,
        Err(_) => {
            return to_axum(
                ApiError::PayloadTooLarge(format!(
                    "The request body must be at most {MAX_BODY_BYTES} bytes."
                ))
                .into_response(),
            )
        }
    };
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let req = ApiRequest {
        caller: state.auth.caller(authorization),
        method: parts.method,
        path_params,
        query: query
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default(),
        headers: parts.headers,
        body,
    };
    let writes = !matches!(req.method, http::Method::GET | http::Method::HEAD);
    let response = route.call(&state.deps, req).await;
    if writes {
        // Read-your-writes for the side effects: the notifications of a booking exist when the
        // booking's response arrives (in AWS the stream takes about a second).
        state.worker.catch_up().await;
    }
    to_axum(response)
}

/// The path parameters of `template` (`/api/appointments/{id}`) in `path`, with bytes that are
/// not UTF-8 decoded as U+FFFD: such an id names nothing, so the handler answers as for any
/// unknown id (after checking the caller), instead of axum's plain-text 400.
fn lossy_path_params(template: &str, path: &str) -> HashMap<String, String> {
    template
        .split('/')
        .zip(path.split('/'))
        .filter_map(|(name, value)| {
            let name = name.strip_prefix('{')?.strip_suffix('}')?;
            let value = percent_encoding::percent_decode_str(value).decode_utf8_lossy();
            Some((name.to_owned(), value.into_owned()))
        })
        .collect()
}

pub fn to_axum(r: ApiResponse) -> Response {
    let mut response = Response::new(Body::from(r.body));
    *response.status_mut() = r.status;
    *response.headers_mut() = r.headers;
    response
}

async fn api_not_found() -> Response {
    to_axum(ApiError::NotFound("route").into_response())
}

async fn method_not_allowed() -> Response {
    let mut r =
        ApiError::BadRequest("This method is not allowed on this path.".into()).into_response();
    r.status = StatusCode::METHOD_NOT_ALLOWED;
    if let Ok(body) = serde_json::to_vec(&serde_json::json!({
        "type": "/problems/method-not-allowed",
        "title": "Method Not Allowed",
        "status": 405,
        "detail": "This method is not allowed on this path."
    })) {
        r.body = body.into();
    }
    to_axum(r)
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response()
}

/// The headers CloudFront's response headers policy sets in AWS, so the site is tested locally
/// under the same Content-Security-Policy.
async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    let set = |h: &mut http::HeaderMap, k: &'static str, v: &'static str| {
        h.entry(k).or_insert(HeaderValue::from_static(v));
    };
    set(h, "x-content-type-options", "nosniff");
    set(h, "referrer-policy", "no-referrer");
    set(h, "x-frame-options", "DENY");
    set(h, "cache-control", "no-store");
    set(
        h,
        "content-security-policy",
        "default-src 'self'; script-src 'self' https://meet.jit.si https://8x8.vc; \
         frame-src https://meet.jit.si https://8x8.vc; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    );
    set(
        h,
        "permissions-policy",
        "camera=(self \"https://meet.jit.si\" \"https://8x8.vc\"), microphone=(self \"https://meet.jit.si\" \"https://8x8.vc\"), display-capture=(self \"https://meet.jit.si\" \"https://8x8.vc\")",
    );
    response
}
