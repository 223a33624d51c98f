//! `bench-lambda`: one API route served through `lambda_http` exactly as `functions/*/src/main.rs`
//! serve theirs, but on the embedded store (`BENCH_DATA_DIR`), so the benchmark's warm invokes
//! measure the runtime, the API Gateway adapter and the handler without network or moto in the
//! way. `BENCH_FUNCTION` names the route's function (e.g. `list-slots`).

use std::sync::Arc;

use medichain::adapters::embedded::EmbeddedStore;
use medichain::api::{lambda, routes, Deps};
use medichain::bootstrap;
use medichain::clock::SystemClock;
use medichain::config::AppConfig;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    bootstrap::init_tracing();
    let function = std::env::var("BENCH_FUNCTION")?;
    let data_dir = std::env::var("BENCH_DATA_DIR")?;
    let store = EmbeddedStore::open(std::path::Path::new(&data_dir))?;
    let deps = Deps::from_store(store, Arc::new(SystemClock), AppConfig::from_env()?);
    let route = routes::for_function(&function);
    lambda_http::run(lambda_http::service_fn(|event| {
        lambda::handle(&deps, &route, event)
    }))
    .await
}
