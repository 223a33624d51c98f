//! Local sign-in: stands in for Cognito and API Gateway's JWT authorizer. `POST /dev/login` signs
//! an HS256 JWT for a demo user with a key kept in the data directory (made on first start, never
//! in the repo); every `/api` request's bearer token is verified here and turned into the same
//! claims the authorizer would pass to a Lambda function.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context as _;
use chrono::{Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use medichain::api::{caller_from_claims, AuthProblem};
use medichain::domain::{Caller, Role, UserProfile};
use serde::{Deserialize, Serialize};

const ISSUER: &str = "medichain-local";
const TOKEN_LIFETIME: Duration = Duration::hours(12);

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    name: String,
    #[serde(rename = "cognito:groups")]
    groups: String,
    iss: String,
    aud: String,
    iat: i64,
    exp: i64,
}

pub struct LocalAuth {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl LocalAuth {
    const KEY_FILE: &'static str = "local-signing.key";

    /// Loads the signing key from `data_dir`, creating it on first start.
    pub fn load_or_create(data_dir: &Path) -> anyhow::Result<Self> {
        let path = data_dir.join(Self::KEY_FILE);
        let secret = match std::fs::read(&path) {
            Ok(bytes) if bytes.len() >= 32 => bytes,
            _ => {
                let mut bytes = vec![0u8; 32];
                getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("random source: {e}"))?;
                write_private(&path, &bytes)
                    .with_context(|| format!("writing {}", path.display()))?;
                bytes
            }
        };
        Ok(Self::from_secret(&secret))
    }

    pub fn from_secret(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    pub fn sign(&self, user: &UserProfile) -> anyhow::Result<String> {
        let now = Utc::now();
        let claims = Claims {
            sub: user.id.to_string(),
            name: user.name.clone(),
            groups: format!("[{}]", user.role.group()),
            iss: ISSUER.into(),
            aud: ISSUER.into(),
            iat: now.timestamp(),
            exp: (now + TOKEN_LIFETIME).timestamp(),
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// The caller behind an `Authorization` header value, as API Gateway would see them.
    pub fn caller(&self, authorization: Option<&str>) -> Result<Caller, AuthProblem> {
        let token = authorization
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .ok_or_else(|| AuthProblem::Unauthenticated("no bearer token".into()))?;
        let data = jsonwebtoken::decode::<Claims>(token.trim(), &self.decoding, &self.validation)
            .map_err(|_| AuthProblem::Unauthenticated("the token is not valid".into()))?;
        let c = data.claims;
        let claims = HashMap::from([
            ("sub".to_owned(), c.sub),
            ("name".to_owned(), c.name),
            ("cognito:groups".to_owned(), c.groups),
        ]);
        caller_from_claims(&claims)
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)
}

/// The role a demo user signs in with (shown by `/dev/users`).
pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Patient => "patient",
        Role::Doctor => "doctor",
    }
}

#[cfg(test)]
mod tests {
    use medichain::domain::doctor::TimeZone;
    use medichain::domain::UserId;

    use super::*;

    fn user() -> UserProfile {
        UserProfile {
            id: UserId::parse("p1").unwrap(),
            role: Role::Patient,
            name: "Pat".into(),
            time_zone: TimeZone::default(),
            phone: None,
            sms_opt_in: false,
        }
    }

    #[test]
    fn a_signed_token_verifies_into_the_same_caller() {
        let auth = LocalAuth::from_secret(&[7; 32]);
        let token = auth.sign(&user()).unwrap();
        let caller = auth.caller(Some(&format!("Bearer {token}"))).unwrap();
        assert_eq!(caller.id.as_str(), "p1");
        assert_eq!(caller.role, Role::Patient);
    }

    #[test]
    fn tokens_from_another_key_or_tampered_are_refused() {
        let token = LocalAuth::from_secret(&[1; 32]).sign(&user()).unwrap();
        let auth = LocalAuth::from_secret(&[2; 32]);
        assert!(auth.caller(Some(&format!("Bearer {token}"))).is_err());
        assert!(auth.caller(None).is_err());
        assert!(auth.caller(Some("Basic abc")).is_err());
        // alg: none with the same claims
        let parts: Vec<&str> = token.split('.').collect();
        let none_header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";
        let forged = format!("Bearer {none_header}.{}.", parts[1]);
        assert!(LocalAuth::from_secret(&[1; 32])
            .caller(Some(&forged))
            .is_err());
    }
}
