//! Cold-start wiring for the Lambda functions: structured logs, the typed configuration, one SDK
//! configuration load and the DynamoDB store, handed to the API as [`Deps`]. Everything that can
//! be wrong with the environment fails here, once, never per request.

use std::sync::Arc;

use crate::adapters::aws::{load_sdk_config, DynamoDbStore};
use crate::api::Deps;
use crate::clock::SystemClock;
use crate::config::{self, AppConfig};

/// JSON logs (one object per line, as CloudWatch Logs Insights reads them), no colours. The level
/// comes from `RUST_LOG`, else from the function's `AWS_LAMBDA_LOG_LEVEL`, else `info`.
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;

    let filter = EnvFilter::try_from_default_env()
        .ok()
        .or_else(|| {
            std::env::var("AWS_LAMBDA_LOG_LEVEL")
                .ok()
                .and_then(|level| EnvFilter::try_new(level.to_ascii_lowercase()).ok())
        })
        .unwrap_or_else(|| EnvFilter::new("info"));
    // `try_init`: a second call (tests, a function that wires twice) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_target(false)
        .with_current_span(false)
        .try_init();
}

/// The handlers' dependencies on the DynamoDB store named by `TABLE_NAME`.
pub async fn aws_deps() -> Result<Deps, lambda_http::Error> {
    let get = |name: &str| std::env::var(name).ok();
    let app = AppConfig::from_lookup(get)?;
    let table = config::required(&get, "TABLE_NAME")?;
    let sdk = load_sdk_config().await;
    let store = DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&sdk), table);
    Ok(Deps::from_store(store, Arc::new(SystemClock), app))
}

/// For the function that hands out Jitsi tokens (join-call): loads the JaaS key or the app secret
/// that the config names in SSM, once, at cold start (`ssm:GetParameter`). Other functions skip
/// this, so they neither wait for SSM nor need the permission.
pub async fn with_jitsi_secrets(mut deps: Deps) -> Result<Deps, lambda_http::Error> {
    if deps.config.secret_parameters().is_empty() {
        return Ok(deps);
    }
    let sdk = load_sdk_config().await;
    let parameters =
        crate::adapters::aws::parameters::SsmParameters::new(aws_sdk_ssm::Client::new(&sdk));
    deps.config = parameters.load_secrets(deps.config).await?;
    Ok(deps)
}
