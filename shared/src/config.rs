//! Settings read once at cold start from the environment into one typed struct. Adapters never
//! read the environment themselves; they get what they need from here.

pub mod reminders;

use crate::domain::{InvalidValue, JitsiSettings};
use crate::jitsi::secret::FetchedSecrets;
use crate::jitsi::{JitsiAuth, JitsiAuthSettings, JAAS_DOMAIN};

#[derive(Debug, Clone)]
pub struct AppConfig {
    /// Where the Jitsi rooms live.
    pub jitsi: JitsiSettings,
    /// The public URL of the web app, used in links sent by SMS and push.
    pub site_url: String,
    /// How participants are admitted to rooms (no token, JaaS or self-hosted token auth), with
    /// the key material resolved. Its `Debug` never shows the key.
    pub jitsi_auth: JitsiAuth,
}

impl Default for AppConfig {
    fn default() -> Self {
        Self {
            jitsi: JitsiSettings::default(),
            site_url: "http://127.0.0.1:3000".to_owned(),
            jitsi_auth: JitsiAuth::None,
        }
    }
}

impl AppConfig {
    pub fn from_env() -> Result<Self, InvalidValue> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The same as [`AppConfig::from_env`], reading from any lookup (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, InvalidValue> {
        Self::from_lookup_with_secrets(get, &FetchedSecrets::default())
    }

    /// The config, with secrets from the environment, files, or the `fetched` SSM parameters. A
    /// key named by an SSM parameter that is not in `fetched` leaves the token mode
    /// [`JitsiAuth::Unloaded`]: see [`AppConfig::with_loaded_secrets`].
    pub fn from_lookup_with_secrets(
        get: impl Fn(&str) -> Option<String>,
        fetched: &FetchedSecrets,
    ) -> Result<Self, InvalidValue> {
        let defaults = Self::default();
        let auth = JitsiAuthSettings::from_lookup(&get)?;
        let jitsi = match (get("JITSI_DOMAIN"), &auth) {
            (Some(domain), _) => JitsiSettings::new(&domain)?,
            (None, JitsiAuthSettings::Jaas { .. }) => JitsiSettings::new(JAAS_DOMAIN)?,
            (None, _) => defaults.jitsi,
        };
        // JaaS rooms live under the AppID: meeting links must say so too.
        let jitsi = match &auth {
            JitsiAuthSettings::Jaas { app_id, .. } => jitsi.with_tenant(app_id),
            _ => jitsi,
        };
        let jitsi_auth = auth.resolve_if_loaded(&jitsi, fetched)?;
        let site_url = get("SITE_URL").unwrap_or(defaults.site_url);
        if !(site_url.starts_with("https://") || site_url.starts_with("http://")) {
            return Err(InvalidValue::new("SITE_URL", "must be an http(s) URL"));
        }
        Ok(Self {
            jitsi,
            site_url: site_url.trim_end_matches('/').to_owned(),
            jitsi_auth,
        })
    }
}

impl AppConfig {
    /// The SSM parameters this config still needs fetched (the Jitsi key or app secret).
    pub fn secret_parameters(&self) -> Vec<String> {
        self.jitsi_auth.parameters_to_load()
    }

    /// The config with the token mode completed from the fetched SSM parameters.
    pub fn with_loaded_secrets(mut self, fetched: &FetchedSecrets) -> Result<Self, InvalidValue> {
        self.jitsi_auth = self.jitsi_auth.load(&self.jitsi, fetched)?;
        Ok(self)
    }
}

/// Reads a variable that must be set, for the settings a deployed function cannot run without.
pub fn required(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<String, InvalidValue> {
    get(name)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| InvalidValue::new(name, "must be set"))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn defaults_point_at_public_jitsi_and_the_local_server() {
        let config = AppConfig::from_lookup(|_| None).unwrap();
        assert_eq!(config.jitsi.domain(), "meet.jit.si");
        assert_eq!(config.site_url, "http://127.0.0.1:3000");
    }

    #[test]
    fn settings_come_from_the_environment_and_are_checked() {
        let env = HashMap::from([
            ("JITSI_DOMAIN", "8x8.vc"),
            ("SITE_URL", "https://app.example.org/"),
        ]);
        let config = AppConfig::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(config.jitsi.domain(), "8x8.vc");
        assert_eq!(config.site_url, "https://app.example.org");
        let bad = AppConfig::from_lookup(|k| (k == "SITE_URL").then(|| "ftp://x".to_string()));
        assert!(bad.is_err());
    }
}
