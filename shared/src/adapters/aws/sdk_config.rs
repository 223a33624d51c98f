//! The SDK configuration of a Lambda function, from its environment only.
//!
//! Lambda hands every function its region (`AWS_REGION`) and its role's credentials
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) as environment variables,
//! valid for the execution environment's life. aws-config's default chain would look there
//! first too, but linking it brings profile files, SSO, STS web identity, ECS and IMDS
//! credential providers into every function: about 200 KB of an arm64 binary
//! (docs/performance.md) for code that never runs in Lambda. The endpoint overrides that moto,
//! the benchmark and the tests use (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`) are
//! honoured as aws-config honours them. Retries, timeouts and the identity cache are the SDK
//! clients' own defaults for the latest behavior version, the same values aws-config would set.

use std::fmt;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};
use aws_types::SdkConfig;

use super::https_client;

/// The SDK configuration from the process environment, with this crate's HTTPS client.
pub fn sdk_config_from_env() -> SdkConfig {
    sdk_config_from(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
}

/// The SDK configuration from `get` (an environment lookup).
///
/// Without credentials in the environment the clients have no credentials provider and each
/// call fails with the SDK's "no credentials" error, as the default chain's would outside AWS.
pub(crate) fn sdk_config_from(
    get: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
) -> SdkConfig {
    let region = get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION"));
    let credentials = match (get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY")) {
        (Some(key), Some(secret)) => Some(SharedCredentialsProvider::new(Credentials::new(
            key,
            secret,
            get("AWS_SESSION_TOKEN"),
            None,
            "Environment",
        ))),
        _ => None,
    };
    let endpoint_url = get("AWS_ENDPOINT_URL");
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(https_client());
    builder.set_region(region.map(Region::new));
    builder.set_credentials_provider(credentials);
    builder.set_endpoint_url(endpoint_url);
    builder.service_config(EnvEndpoints(Box::new(get))).build()
}

/// Per-service settings from the environment, of which this crate's clients ask for one: the
/// endpoint. Each client looks up `AWS_ENDPOINT_URL_<SERVICE>` (its service id upper-cased,
/// spaces as underscores, as aws-config spells it) when it is built, then `AWS_ENDPOINT_URL`.
struct EnvEndpoints(Box<Lookup>);

/// An environment lookup: a variable's value by name.
type Lookup = dyn Fn(&str) -> Option<String> + Send + Sync;

impl LoadServiceConfig for EnvEndpoints {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        let service = key.service_id().to_uppercase().replace(' ', "_");
        (self.0)(&format!("{}_{service}", key.env())).or_else(|| (self.0)(key.env()))
    }
}

impl fmt::Debug for EnvEndpoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EnvEndpoints")
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::config::ProvideCredentials;
    use aws_types::service_config::ServiceConfigKey;

    use super::sdk_config_from;

    fn env(
        pairs: &'static [(&'static str, &'static str)],
    ) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[tokio::test]
    async fn region_and_credentials_come_from_lambdas_environment() {
        let sdk = sdk_config_from(env(&[
            ("AWS_REGION", "eu-central-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
        ]));
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("eu-central-1"));
        let credentials = sdk
            .credentials_provider()
            .expect("credentials from the environment")
            .provide_credentials()
            .await
            .unwrap();
        assert_eq!(credentials.access_key_id(), "AKIDEXAMPLE");
        assert_eq!(credentials.secret_access_key(), "secret");
        assert_eq!(credentials.session_token(), Some("token"));
        assert_eq!(sdk.endpoint_url(), None);
    }

    #[test]
    fn without_credentials_there_is_no_provider_and_the_default_region_applies() {
        let sdk = sdk_config_from(env(&[
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ]));
        assert!(sdk.credentials_provider().is_none());
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("us-east-1"));
    }

    /// What each SDK client asks when it is built from the configuration (see the generated
    /// `From<&SdkConfig>` of every client's config).
    fn endpoint_of(sdk: &aws_types::SdkConfig, service_id: &str) -> Option<String> {
        let key = ServiceConfigKey::builder()
            .service_id(service_id)
            .env("AWS_ENDPOINT_URL")
            .profile("endpoint_url")
            .build()
            .unwrap();
        sdk.service_config()?.load_config(key)
    }

    #[test]
    fn a_services_own_endpoint_wins_over_the_global_one() {
        let sdk = sdk_config_from(env(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
            ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000"),
        ]));
        assert_eq!(sdk.endpoint_url(), Some("http://127.0.0.1:5000"));
        assert_eq!(
            endpoint_of(&sdk, "DynamoDB").as_deref(),
            Some("http://127.0.0.1:8000")
        );
        assert_eq!(
            endpoint_of(&sdk, "Scheduler").as_deref(),
            Some("http://127.0.0.1:5000")
        );

        let none = sdk_config_from(env(&[]));
        assert_eq!(none.endpoint_url(), None);
        assert_eq!(endpoint_of(&none, "DynamoDB"), None);
    }
}
