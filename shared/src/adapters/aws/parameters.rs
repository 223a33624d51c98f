//! Secrets from SSM Parameter Store, read once at cold start: the JaaS private key or the
//! self-hosted Jitsi app secret (a SecureString, decrypted by SSM with its KMS key). A Secrets
//! Manager secret is read the same way through its `/aws/reference/secretsmanager/<secret id>`
//! parameter name, so one small SDK client covers both stores. Values are wrapped in
//! [`Secret`] at once; errors name the parameter, never its value.

use aws_sdk_ssm::error::ProvideErrorMetadata;
use aws_sdk_ssm::Client;

use crate::config::AppConfig;
use crate::jitsi::secret::{FetchedSecrets, Secret};

#[derive(Debug, thiserror::Error)]
pub enum ParameterError {
    #[error("SSM parameter {name} could not be read ({code})")]
    Unreadable { name: String, code: String },
    #[error("SSM parameter {0} has no value")]
    Empty(String),
    #[error("invalid configuration: {0}")]
    Config(#[from] crate::domain::InvalidValue),
}

/// Reads SSM parameters with decryption. Takes its client in `new`, like every adapter.
#[derive(Clone, Debug)]
pub struct SsmParameters {
    client: Client,
}

impl SsmParameters {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// Fetches each named parameter (`ssm:GetParameter` with `WithDecryption`).
    pub async fn fetch(&self, names: &[String]) -> Result<FetchedSecrets, ParameterError> {
        let mut fetched = FetchedSecrets::default();
        for name in names {
            let out = self
                .client
                .get_parameter()
                .name(name)
                .with_decryption(true)
                .send()
                .await
                .map_err(|e| ParameterError::Unreadable {
                    name: name.clone(),
                    code: e.code().unwrap_or("unreachable").to_owned(),
                })?;
            let value = out
                .parameter
                .and_then(|p| p.value)
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| ParameterError::Empty(name.clone()))?;
            fetched.insert(name.clone(), Secret::new(value));
        }
        Ok(fetched)
    }

    /// `config` with the Jitsi key or app secret it names in SSM loaded (unchanged when it names
    /// none). Fails when a parameter cannot be read or does not hold a usable key.
    pub async fn load_secrets(&self, config: AppConfig) -> Result<AppConfig, ParameterError> {
        let names = config.secret_parameters();
        if names.is_empty() {
            return Ok(config);
        }
        let fetched = self.fetch(&names).await?;
        let loaded = config.with_loaded_secrets(&fetched)?;
        tracing::info!(
            parameters = names.len(),
            mode = loaded.jitsi_auth.mode(),
            "Jitsi token key loaded"
        );
        Ok(loaded)
    }
}
