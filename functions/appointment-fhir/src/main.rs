//! `appointment-fhir`: one API route as a Lambda function behind API Gateway's HTTP API. It only wires: the
//! handler lives in the shared crate, the same one the local server calls.

use medichain::api::{lambda, routes};
use medichain::bootstrap;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    bootstrap::init_tracing();
    let deps = bootstrap::aws_deps().await?;
    // Picked at compile time: this binary links its own handler only.
    let route = const { routes::served_by(env!("CARGO_PKG_NAME")) };
    lambda_http::run(lambda_http::service_fn(|event| {
        lambda::handle(&deps, &route, event)
    }))
    .await
}
