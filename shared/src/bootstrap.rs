//! Cold-start wiring for the Lambda functions: structured logs, the typed configuration, one SDK
//! configuration load and the DynamoDB store, handed to the API as [`Deps`]. Everything that can
//! be wrong with the environment fails here, once, never per request.

use std::sync::Arc;

use crate::adapters::aws::{load_sdk_config, DynamoDbStore};
use crate::adapters::cached_directory::DEFAULT_TTL;
use crate::api::Deps;
use crate::clock::SystemClock;
use crate::config::{self, AppConfig};

/// JSON logs (one object per line, as CloudWatch Logs Insights reads them), no colours. The level
/// comes from `RUST_LOG`, else from the function's `AWS_LAMBDA_LOG_LEVEL` (what the template's
/// logging settings set), else `info`. One level for everything: per-module filters would link
/// a regex engine into every function (~150 KB) for something Lambda's log settings never use.
pub fn init_tracing() {
    let level = log_level(|name| std::env::var(name).ok());
    // `try_init`: a second call (tests, a function that wires twice) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_max_level(level)
        .with_ansi(false)
        .with_target(false)
        .with_current_span(false)
        .try_init();
}

/// The first of `RUST_LOG` and `AWS_LAMBDA_LOG_LEVEL` that names a level (Lambda's `FATAL` is
/// `error` here), else `info`.
fn log_level(get: impl Fn(&str) -> Option<String>) -> tracing_subscriber::filter::LevelFilter {
    use tracing_subscriber::filter::LevelFilter;
    ["RUST_LOG", "AWS_LAMBDA_LOG_LEVEL"]
        .iter()
        .filter_map(|name| get(name))
        .find_map(|raw| match raw.trim().to_ascii_lowercase().as_str() {
            "fatal" => Some(LevelFilter::ERROR),
            level => level.parse().ok(),
        })
        .unwrap_or(LevelFilter::INFO)
}

/// The handlers' dependencies on the DynamoDB store named by `TABLE_NAME`.
pub async fn aws_deps() -> Result<Deps, lambda_http::Error> {
    let get = |name: &str| std::env::var(name).ok();
    let app = AppConfig::from_lookup(get)?;
    let table = config::required(&get, "TABLE_NAME")?;
    let sdk = load_sdk_config().await;
    Ok(deps_on(aws_sdk_dynamodb::Client::new(&sdk), table, app))
}

/// The handlers' dependencies on `table` through `client`, as every API function wires them:
/// doctor lookups come from a per-container cache (see
/// [`CachedDirectory`](crate::adapters::cached_directory::CachedDirectory)), so that a booking
/// is one transaction and no read. Nothing here touches the network.
pub fn deps_on(client: aws_sdk_dynamodb::Client, table: impl Into<String>, app: AppConfig) -> Deps {
    let store = DynamoDbStore::new(client, table);
    Deps::from_store(store, Arc::new(SystemClock), app).with_directory_cache(DEFAULT_TTL)
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

#[cfg(test)]
mod tests {
    use tracing_subscriber::filter::LevelFilter;

    use super::log_level;

    #[test]
    fn the_log_level_comes_from_rust_log_then_lambdas_setting_then_info() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(log_level(env(&[])), LevelFilter::INFO);
        assert_eq!(
            log_level(env(&[("AWS_LAMBDA_LOG_LEVEL", "DEBUG")])),
            LevelFilter::DEBUG
        );
        assert_eq!(
            log_level(env(&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")])),
            LevelFilter::ERROR
        );
        assert_eq!(
            log_level(env(&[
                ("RUST_LOG", "warn"),
                ("AWS_LAMBDA_LOG_LEVEL", "DEBUG")
            ])),
            LevelFilter::WARN
        );
        // A per-module directive is not a level: Lambda's setting applies.
        assert_eq!(
            log_level(env(&[
                ("RUST_LOG", "medichain=debug"),
                ("AWS_LAMBDA_LOG_LEVEL", "ERROR")
            ])),
            LevelFilter::ERROR
        );
    }
}
