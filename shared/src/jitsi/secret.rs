//! Secret material (the JaaS private key, a self-hosted Jitsi's app secret) and where it comes
//! from. A [`Secret`] cannot be printed: its `Debug` says only that it is redacted, so a config
//! struct holding one can be logged whole without leaking it.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

use crate::domain::InvalidValue;

/// Bytes that must never reach a log, an error message or a response.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(u8::is_ascii_whitespace)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

/// Where a secret is read from. Locally: the variable itself or a file; in AWS: an SSM
/// parameter (a SecureString, or a Secrets Manager secret through its
/// `/aws/reference/secretsmanager/<id>` name), fetched once at cold start.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretSource {
    Inline(Secret),
    File(PathBuf),
    Parameter(String),
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Inline(_) => f.write_str("Inline(redacted)"),
            Self::File(p) => write!(f, "File({})", p.display()),
            Self::Parameter(name) => write!(f, "Parameter({name})"),
        }
    }
}

impl SecretSource {
    /// Reads `NAME`, `NAME_FILE` or `NAME_PARAMETER` (exactly one may be set). `None` when none is.
    pub fn from_lookup(
        get: &impl Fn(&str) -> Option<String>,
        name: &'static str,
        file_var: &'static str,
        parameter_var: &'static str,
    ) -> Result<Option<Self>, InvalidValue> {
        let set = |var: &str| get(var).filter(|v| !v.trim().is_empty());
        let found: Vec<Self> = [
            set(name).map(|v| Self::Inline(Secret::new(v))),
            set(file_var).map(|v| Self::File(PathBuf::from(v.trim()))),
            set(parameter_var).map(|v| Self::Parameter(v.trim().to_owned())),
        ]
        .into_iter()
        .flatten()
        .collect();
        match found.len() {
            0 => Ok(None),
            1 => Ok(found.into_iter().next()),
            _ => Err(InvalidValue::new(
                name,
                format!("set only one of {name}, {file_var} and {parameter_var}"),
            )),
        }
    }

    /// The secret itself: inline, read from the file, or taken from the parameters fetched at
    /// cold start.
    pub fn resolve(
        &self,
        field: &'static str,
        fetched: &FetchedSecrets,
    ) -> Result<Secret, InvalidValue> {
        let secret = match self {
            Self::Inline(s) => s.clone(),
            // The error names the path, never the content.
            Self::File(path) => std::fs::read(path).map(Secret::new).map_err(|e| {
                InvalidValue::new(field, format!("cannot read {}: {e}", path.display()))
            })?,
            Self::Parameter(name) => fetched.0.get(name).cloned().ok_or_else(|| {
                InvalidValue::new(
                    field,
                    format!("parameter {name} was not loaded (read it at cold start)"),
                )
            })?,
        };
        if secret.is_empty() {
            return Err(InvalidValue::new(field, "is empty"));
        }
        Ok(secret)
    }
}

/// Parameter values fetched from SSM at cold start, by parameter name.
#[derive(Debug, Clone, Default)]
pub struct FetchedSecrets(HashMap<String, Secret>);

impl FetchedSecrets {
    pub fn insert(&mut self, name: impl Into<String>, value: Secret) {
        self.0.insert(name.into(), value);
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("top-secret-value");
        assert_eq!(format!("{s:?}"), "Secret(redacted)");
        let src = SecretSource::Inline(s);
        assert!(!format!("{src:?}").contains("top-secret"));
    }

    #[test]
    fn exactly_one_source_may_be_set() {
        let env = HashMap::from([("K", "v"), ("K_FILE", "/x")]);
        let get = |k: &str| env.get(k).map(|v| v.to_string());
        assert!(SecretSource::from_lookup(&get, "K", "K_FILE", "K_PARAMETER").is_err());
        let env = HashMap::from([("K_PARAMETER", "/medichain/k")]);
        let get = |k: &str| env.get(k).map(|v| v.to_string());
        let src = SecretSource::from_lookup(&get, "K", "K_FILE", "K_PARAMETER")
            .unwrap()
            .unwrap();
        assert_eq!(src, SecretSource::Parameter("/medichain/k".into()));
        assert!(src.resolve("K", &FetchedSecrets::default()).is_err());
        let mut fetched = FetchedSecrets::default();
        fetched.insert("/medichain/k", Secret::new("abc"));
        assert_eq!(src.resolve("K", &fetched).unwrap().expose(), b"abc");
    }

    #[test]
    fn file_sources_are_read_and_errors_do_not_show_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "file-secret").unwrap();
        let src = SecretSource::File(path);
        assert_eq!(
            src.resolve("K", &FetchedSecrets::default())
                .unwrap()
                .expose(),
            b"file-secret"
        );
        let missing = SecretSource::File(dir.path().join("missing"));
        assert!(missing.resolve("K", &FetchedSecrets::default()).is_err());
        let empty = SecretSource::Inline(Secret::new("  "));
        assert!(empty.resolve("K", &FetchedSecrets::default()).is_err());
    }
}
