//! Access to a Jitsi room: which domain and room name the video page passes to the IFrame
//! External API, and — when the deployment uses token authentication — a JWT that admits one
//! participant to one room for the appointment's join window only.
//!
//! Three modes, chosen by `JITSI_AUTH`:
//! - `none`: public Jitsi (the local demo default); no token, the room name is the only key.
//! - `jaas`: 8x8 Jitsi as a Service. RS256 with header `kid` = `<AppID>/<key id>`, claims
//!   `aud: "jitsi"`, `iss: "chat"`, `sub: <AppID>`; the room is addressed as `<AppID>/<room>`.
//! - `self_hosted`: a Jitsi Meet with Prosody `token_verification`: HS256 with the shared app
//!   secret, `iss` = app id, `aud` = app id (or configured), `sub` = the Jitsi domain.

pub mod jwt;
pub mod secret;

use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::domain::call::JoinWindow;
use crate::domain::{InvalidValue, JitsiSettings, RoomName, UserId};
use jwt::SigningKey;
use secret::{FetchedSecrets, SecretSource};

/// The JaaS meeting domain.
pub const JAAS_DOMAIN: &str = "8x8.vc";

/// Room features a JaaS token may grant; all are off unless `JITSI_FEATURES` names them. Only a
/// moderator (the doctor) ever gets them: recording a consultation is a clinical decision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Features {
    pub recording: bool,
    pub livestreaming: bool,
    pub transcription: bool,
    pub outbound_call: bool,
}

impl Features {
    /// A comma-separated list such as `recording,transcription`; empty means all off.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let mut f = Self::default();
        for name in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match name {
                "recording" => f.recording = true,
                "livestreaming" => f.livestreaming = true,
                "transcription" => f.transcription = true,
                "outbound-call" => f.outbound_call = true,
                _ => {
                    return Err(InvalidValue::new(
                        "JITSI_FEATURES",
                        "must list only recording, livestreaming, transcription, outbound-call",
                    ))
                }
            }
        }
        Ok(f)
    }

    fn claims(&self, moderator: bool) -> Value {
        let flag = |on: bool| if on && moderator { "true" } else { "false" };
        json!({
            "recording": flag(self.recording),
            "livestreaming": flag(self.livestreaming),
            "transcription": flag(self.transcription),
            "outbound-call": flag(self.outbound_call),
        })
    }
}

/// The token settings as read from the environment, with secrets still as sources (an SSM
/// parameter is fetched at cold start before the settings are resolved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JitsiAuthSettings {
    None,
    Jaas {
        app_id: String,
        key_id: String,
        private_key: SecretSource,
        features: Features,
    },
    SelfHosted {
        app_id: String,
        audience: String,
        app_secret: SecretSource,
    },
}

fn required(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<String, InvalidValue> {
    crate::config::required(get, name).map(|v| v.trim().to_owned())
}

fn token_safe(name: &'static str, value: String) -> Result<String, InvalidValue> {
    let ok = value.len() <= 200
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    if ok {
        Ok(value)
    } else {
        Err(InvalidValue::new(
            name,
            "must be letters, digits, '-', '_', '.' or ':'",
        ))
    }
}

impl JitsiAuthSettings {
    pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, InvalidValue> {
        let mode = get("JITSI_AUTH").unwrap_or_default();
        match mode.trim() {
            "" | "none" => Ok(Self::None),
            "jaas" => {
                let app_id = token_safe("JAAS_APP_ID", required(get, "JAAS_APP_ID")?)?;
                // Accept the key id alone or the whole `kid` the JaaS console shows.
                let raw_kid = required(get, "JAAS_KEY_ID")?;
                let key_id = match raw_kid.split_once('/') {
                    Some((app, key)) if app == app_id => key.to_owned(),
                    Some(_) => {
                        return Err(InvalidValue::new(
                            "JAAS_KEY_ID",
                            "belongs to another AppID than JAAS_APP_ID",
                        ))
                    }
                    None => raw_kid,
                };
                let key_id = token_safe("JAAS_KEY_ID", key_id)?;
                let private_key = SecretSource::from_lookup(
                    get,
                    "JAAS_PRIVATE_KEY",
                    "JAAS_PRIVATE_KEY_FILE",
                    "JAAS_PRIVATE_KEY_PARAMETER",
                )?
                .ok_or_else(|| {
                    InvalidValue::new(
                        "JAAS_PRIVATE_KEY",
                        "set JAAS_PRIVATE_KEY, JAAS_PRIVATE_KEY_FILE or JAAS_PRIVATE_KEY_PARAMETER",
                    )
                })?;
                let features = Features::parse(&get("JITSI_FEATURES").unwrap_or_default())?;
                Ok(Self::Jaas {
                    app_id,
                    key_id,
                    private_key,
                    features,
                })
            }
            "self_hosted" => {
                let app_id = token_safe("JITSI_APP_ID", required(get, "JITSI_APP_ID")?)?;
                let audience = match get("JITSI_TOKEN_AUDIENCE").filter(|v| !v.trim().is_empty()) {
                    Some(aud) => token_safe("JITSI_TOKEN_AUDIENCE", aud.trim().to_owned())?,
                    None => app_id.clone(),
                };
                let app_secret = SecretSource::from_lookup(
                    get,
                    "JITSI_APP_SECRET",
                    "JITSI_APP_SECRET_FILE",
                    "JITSI_APP_SECRET_PARAMETER",
                )?
                .ok_or_else(|| {
                    InvalidValue::new(
                        "JITSI_APP_SECRET",
                        "set JITSI_APP_SECRET, JITSI_APP_SECRET_FILE or JITSI_APP_SECRET_PARAMETER",
                    )
                })?;
                Ok(Self::SelfHosted {
                    app_id,
                    audience,
                    app_secret,
                })
            }
            _ => Err(InvalidValue::new(
                "JITSI_AUTH",
                "must be none, jaas or self_hosted",
            )),
        }
    }

    /// The SSM parameters these settings need fetched before [`JitsiAuthSettings::resolve`].
    pub fn parameters(&self) -> Vec<String> {
        let source = match self {
            Self::None => return Vec::new(),
            Self::Jaas { private_key, .. } => private_key,
            Self::SelfHosted { app_secret, .. } => app_secret,
        };
        match source {
            SecretSource::Parameter(name) => vec![name.clone()],
            _ => Vec::new(),
        }
    }

    /// The token mode for a process that has fetched `fetched`: resolved when every SSM
    /// parameter the settings name is there, [`JitsiAuth::Unloaded`] otherwise.
    pub fn resolve_if_loaded(
        self,
        domain: &JitsiSettings,
        fetched: &FetchedSecrets,
    ) -> Result<JitsiAuth, InvalidValue> {
        if self.parameters().iter().all(|p| fetched.contains(p)) {
            self.resolve(domain, fetched)
        } else {
            Ok(JitsiAuth::Unloaded(Arc::new(self)))
        }
    }

    /// Builds the token issuer, reading the key material and proving it can sign, so a bad key
    /// fails at cold start instead of on the first join.
    pub fn resolve(
        &self,
        domain: &JitsiSettings,
        fetched: &FetchedSecrets,
    ) -> Result<JitsiAuth, InvalidValue> {
        let auth = match self {
            Self::None => return Ok(JitsiAuth::None),
            Self::Jaas {
                app_id,
                key_id,
                private_key,
                features,
            } => {
                let pem = private_key.resolve("JAAS_PRIVATE_KEY", fetched)?;
                // The reason names the problem only, never the key's content.
                let key = SigningKey::rs256_from_pem(pem.expose()).map_err(|e| {
                    tracing::error!(reason = %e, "the JaaS private key was refused");
                    InvalidValue::new(
                        "JAAS_PRIVATE_KEY",
                        "must be an RSA private key (2048-4096 bits) in PEM form, PKCS#8 or PKCS#1",
                    )
                })?;
                JitsiAuth::Jaas(Arc::new(JaasIssuer {
                    app_id: app_id.clone(),
                    kid: format!("{app_id}/{key_id}"),
                    key,
                    features: *features,
                }))
            }
            Self::SelfHosted {
                app_id,
                audience,
                app_secret,
            } => {
                let secret = app_secret.resolve("JITSI_APP_SECRET", fetched)?;
                if secret.expose().len() < 16 {
                    return Err(InvalidValue::new(
                        "JITSI_APP_SECRET",
                        "must be at least 16 bytes",
                    ));
                }
                JitsiAuth::SelfHosted(Arc::new(SelfHostedIssuer {
                    app_id: app_id.clone(),
                    audience: audience.clone(),
                    subject: domain.domain().to_owned(),
                    key: SigningKey::hs256(secret.expose()),
                }))
            }
        };
        // A probe signature, so that a key which parses but cannot sign fails here.
        let probe = JitsiUser {
            id: UserId::parse("probe").map_err(|e| InvalidValue::new("JITSI_AUTH", e.reason))?,
            name: "probe".into(),
            moderator: false,
        };
        let window = JoinWindow {
            opens_at: chrono::DateTime::UNIX_EPOCH,
            closes_at: chrono::DateTime::UNIX_EPOCH + chrono::Duration::hours(1),
        };
        auth.access(domain, &RoomName::mint(), &probe, window)
            .map_err(|_| {
                InvalidValue::new("JITSI_AUTH", "the configured key cannot sign tokens")
            })?;
        Ok(auth)
    }
}

/// Who a token is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JitsiUser {
    pub id: UserId,
    pub name: String,
    pub moderator: bool,
}

/// What the video page needs to enter the room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomAccess {
    /// The host to load `external_api.js` from and pass as the IFrame API's domain.
    pub domain: String,
    /// The `roomName` option of the IFrame API (`<AppID>/<room>` on JaaS).
    pub room: String,
    /// The `jwt` option, when the deployment uses tokens.
    pub token: Option<String>,
    /// Whether the room runs with a lobby in which only the moderator admits people.
    pub lobby: bool,
}

pub struct JaasIssuer {
    app_id: String,
    kid: String,
    key: SigningKey,
    features: Features,
}

pub struct SelfHostedIssuer {
    app_id: String,
    audience: String,
    subject: String,
    key: SigningKey,
}

/// The resolved token mode, holding key material. Its `Debug` names the mode and ids only.
#[derive(Clone, Default)]
pub enum JitsiAuth {
    #[default]
    None,
    Jaas(Arc<JaasIssuer>),
    SelfHosted(Arc<SelfHostedIssuer>),
    /// Token auth whose key lives in an SSM parameter that this process has not fetched: only
    /// the function that hands out tokens (join-call) fetches it at cold start, so the others
    /// neither pay for the call nor need the IAM permission.
    Unloaded(Arc<JitsiAuthSettings>),
}

/// Why no room access could be handed out.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the Jitsi key in SSM parameter(s) {0:?} was not loaded at cold start")]
    Unloaded(Vec<String>),
    #[error("signing the Jitsi token failed")]
    Sign(#[from] jwt::SignError),
}

impl fmt::Debug for JitsiAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("JitsiAuth::None"),
            Self::Jaas(j) => write!(f, "JitsiAuth::Jaas {{ kid: {}, key: redacted }}", j.kid),
            Self::SelfHosted(s) => write!(
                f,
                "JitsiAuth::SelfHosted {{ app_id: {}, aud: {}, secret: redacted }}",
                s.app_id, s.audience
            ),
            Self::Unloaded(settings) => write!(
                f,
                "JitsiAuth::Unloaded {{ parameters: {:?} }}",
                settings.parameters()
            ),
        }
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    room: &'a str,
    nbf: i64,
    exp: i64,
    context: Value,
}

impl JitsiAuth {
    pub fn mode(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Jaas(_) => "jaas",
            Self::SelfHosted(_) => "self_hosted",
            Self::Unloaded(settings) => match **settings {
                JitsiAuthSettings::None => "none",
                JitsiAuthSettings::Jaas { .. } => "jaas",
                JitsiAuthSettings::SelfHosted { .. } => "self_hosted",
            },
        }
    }

    /// The SSM parameters to fetch before tokens can be signed (empty when nothing is missing).
    pub fn parameters_to_load(&self) -> Vec<String> {
        match self {
            Self::Unloaded(settings) => settings.parameters(),
            _ => Vec::new(),
        }
    }

    /// Completes an `Unloaded` mode with the parameters fetched at cold start.
    pub fn load(
        &self,
        jitsi: &JitsiSettings,
        fetched: &FetchedSecrets,
    ) -> Result<Self, InvalidValue> {
        match self {
            Self::Unloaded(settings) => settings.resolve(jitsi, fetched),
            other => Ok(other.clone()),
        }
    }

    /// Access to `room` for `user`, valid (with a token) from the window's opening to its close.
    pub fn access(
        &self,
        jitsi: &JitsiSettings,
        room: &RoomName,
        user: &JitsiUser,
        window: JoinWindow,
    ) -> Result<RoomAccess, TokenError> {
        let (nbf, exp) = (window.opens_at.timestamp(), window.closes_at.timestamp());
        match self {
            Self::Unloaded(settings) => Err(TokenError::Unloaded(settings.parameters())),
            Self::None => Ok(RoomAccess {
                domain: jitsi.domain().to_owned(),
                room: room.to_string(),
                token: None,
                lobby: false,
            }),
            Self::Jaas(j) => {
                let mut user_claims = Map::new();
                user_claims.insert("id".into(), user.id.as_str().into());
                user_claims.insert("name".into(), user.name.as_str().into());
                user_claims.insert(
                    "moderator".into(),
                    if user.moderator { "true" } else { "false" }.into(),
                );
                let claims = Claims {
                    aud: "jitsi",
                    iss: "chat",
                    sub: &j.app_id,
                    room: room.as_str(),
                    nbf,
                    exp,
                    context: json!({
                        "user": user_claims,
                        "features": j.features.claims(user.moderator),
                    }),
                };
                Ok(RoomAccess {
                    domain: jitsi.domain().to_owned(),
                    room: format!("{}/{}", j.app_id, room),
                    token: Some(j.key.sign(Some(&j.kid), &claims)?),
                    lobby: true,
                })
            }
            Self::SelfHosted(s) => {
                let claims = Claims {
                    aud: &s.audience,
                    iss: &s.app_id,
                    sub: &s.subject,
                    room: room.as_str(),
                    nbf,
                    exp,
                    // `moderator` is read by the token_moderation plugin, `affiliation` by
                    // jitsi-contrib's token_affiliation; either makes the doctor the room owner.
                    context: json!({
                        "user": {
                            "id": user.id.as_str(),
                            "name": user.name,
                            "moderator": user.moderator,
                            "affiliation": if user.moderator { "owner" } else { "member" },
                        }
                    }),
                };
                Ok(RoomAccess {
                    domain: jitsi.domain().to_owned(),
                    room: room.to_string(),
                    token: Some(s.key.sign(None, &claims)?),
                    lobby: true,
                })
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::HashMap;
    use std::process::Command;

    use chrono::{DateTime, TimeZone as _, Utc};
    use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};

    use super::*;

    /// A fresh 2048-bit RSA key pair in PEM (private PKCS#8, public SPKI), made with the openssl
    /// command at test time so no private key is ever committed.
    pub(crate) fn rsa_key_pair() -> (String, String) {
        let private = openssl_key(&["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("private.pem");
        std::fs::write(&path, &private).unwrap();
        let public = openssl(&["pkey", "-in", path.to_str().unwrap(), "-pubout"]);
        (private, public)
    }

    /// The same RSA key in PKCS#1 PEM (`-----BEGIN RSA PRIVATE KEY-----`).
    pub(crate) fn to_pkcs1(pkcs8: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("private.pem");
        std::fs::write(&path, pkcs8).unwrap();
        openssl(&["pkey", "-in", path.to_str().unwrap(), "-traditional"])
    }

    /// A fresh private key in PKCS#8 PEM: `openssl genpkey <args>`.
    pub(crate) fn openssl_key(args: &[&str]) -> String {
        openssl(&[&["genpkey"], args].concat())
    }

    fn openssl(args: &[&str]) -> String {
        let out = Command::new("openssl")
            .args(args)
            .output()
            .expect("the openssl command is needed to make test keys");
        assert!(out.status.success(), "openssl {args:?} failed");
        String::from_utf8(out.stdout).unwrap()
    }

    const APP_ID: &str = "vpaas-magic-cookie-0123456789abcdef0123456789abcdef";

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 3, 4, h, m, 0).unwrap()
    }

    fn window() -> JoinWindow {
        JoinWindow {
            opens_at: t(9, 45),
            closes_at: t(11, 0),
        }
    }

    fn user(id: &str, moderator: bool) -> JitsiUser {
        JitsiUser {
            id: UserId::parse(id).unwrap(),
            name: format!("Name of {id}"),
            moderator,
        }
    }

    fn settings(env: &[(&str, &str)]) -> Result<(JitsiSettings, JitsiAuth), InvalidValue> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let config = crate::config::AppConfig::from_lookup(|k| env.get(k).cloned())?;
        Ok((config.jitsi, config.jitsi_auth))
    }

    /// What a Jitsi deployment does with a token: checks the signature and the standard claims
    /// (signature, alg, aud, iss, sub, nbf, exp at `now`), then that the token's room is the room
    /// being entered.
    // Each argument is one thing a Jitsi deployment checks; a struct would only rename them.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn verify_as_jitsi(
        token: &str,
        key: &DecodingKey,
        alg: Algorithm,
        aud: &str,
        iss: &str,
        sub: &str,
        entering_room: &str,
        now: DateTime<Utc>,
    ) -> Result<Value, String> {
        let mut v = Validation::new(alg);
        v.set_audience(&[aud]);
        v.set_issuer(&[iss]);
        v.sub = Some(sub.to_owned());
        v.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub"]);
        // The library checks times against the system clock; they are checked against `now`
        // below instead.
        v.validate_exp = false;
        v.validate_nbf = false;
        v.leeway = 0;
        let data = decode::<Value>(token, key, &v).map_err(|e| e.to_string())?;
        let claims = data.claims;
        let (nbf, exp) = (claims["nbf"].as_i64(), claims["exp"].as_i64());
        match (nbf, exp) {
            (Some(nbf), Some(exp)) if nbf <= now.timestamp() && now.timestamp() < exp => {}
            _ => return Err("outside the token's validity".into()),
        }
        if claims["room"] != entering_room {
            return Err(format!("token is for room {}", claims["room"]));
        }
        Ok(claims)
    }

    #[test]
    fn jaas_tokens_carry_every_claim_and_verify_with_the_public_key() {
        let (private, public) = rsa_key_pair();
        let (jitsi, auth) = settings(&[
            ("JITSI_AUTH", "jaas"),
            ("JAAS_APP_ID", APP_ID),
            ("JAAS_KEY_ID", "4f4910"),
            ("JAAS_PRIVATE_KEY", &private),
        ])
        .unwrap();
        assert_eq!(jitsi.domain(), "8x8.vc");
        let room = RoomName::mint();
        assert_eq!(
            jitsi.meeting_url(&room),
            format!("https://8x8.vc/{APP_ID}/{room}#config.prejoinConfig.enabled=true")
        );
        let key = DecodingKey::from_rsa_pem(public.as_bytes()).unwrap();
        for moderator in [true, false] {
            let access = auth
                .access(&jitsi, &room, &user("doc", moderator), window())
                .unwrap();
            assert_eq!(access.domain, "8x8.vc");
            assert_eq!(access.room, format!("{APP_ID}/{room}"));
            assert!(access.lobby);
            let token = access.token.unwrap();
            let header = decode_header(&token).unwrap();
            assert_eq!(header.alg, Algorithm::RS256);
            assert_eq!(header.kid.as_deref(), Some(&*format!("{APP_ID}/4f4910")));
            assert_eq!(header.typ.as_deref(), Some("JWT"));
            let claims = verify_as_jitsi(
                &token,
                &key,
                Algorithm::RS256,
                "jitsi",
                "chat",
                APP_ID,
                room.as_str(),
                t(10, 0),
            )
            .unwrap();
            assert_eq!(claims["nbf"], t(9, 45).timestamp());
            assert_eq!(claims["exp"], t(11, 0).timestamp());
            let flag = if moderator { "true" } else { "false" };
            assert_eq!(
                claims["context"]["user"],
                json!({ "id": "doc", "name": "Name of doc", "moderator": flag })
            );
            assert_eq!(
                claims["context"]["features"],
                json!({
                    "recording": "false",
                    "livestreaming": "false",
                    "transcription": "false",
                    "outbound-call": "false",
                })
            );
            let mut keys: Vec<_> = claims.as_object().unwrap().keys().cloned().collect();
            keys.sort();
            assert_eq!(keys, ["aud", "context", "exp", "iss", "nbf", "room", "sub"]);
        }
    }

    #[test]
    fn a_token_for_one_room_is_refused_for_another_and_outside_its_window() {
        let (private, public) = rsa_key_pair();
        let (jitsi, auth) = settings(&[
            ("JITSI_AUTH", "jaas"),
            ("JAAS_APP_ID", APP_ID),
            ("JAAS_KEY_ID", &format!("{APP_ID}/k1")),
            ("JAAS_PRIVATE_KEY", &private),
        ])
        .unwrap();
        let key = DecodingKey::from_rsa_pem(public.as_bytes()).unwrap();
        let (mine, other) = (RoomName::mint(), RoomName::mint());
        let token = auth
            .access(&jitsi, &mine, &user("pat", false), window())
            .unwrap()
            .token
            .unwrap();
        let check = |room: &RoomName, now| {
            verify_as_jitsi(
                &token,
                &key,
                Algorithm::RS256,
                "jitsi",
                "chat",
                APP_ID,
                room.as_str(),
                now,
            )
        };
        assert!(check(&mine, t(10, 0)).is_ok());
        assert!(check(&other, t(10, 0))
            .unwrap_err()
            .contains("token is for room"));
        assert!(check(&mine, t(9, 44)).is_err(), "before nbf");
        assert!(check(&mine, t(11, 0)).is_err(), "at exp");
        // Another key pair's public key does not verify it.
        let (_, stranger) = rsa_key_pair();
        let stranger = DecodingKey::from_rsa_pem(stranger.as_bytes()).unwrap();
        assert!(verify_as_jitsi(
            &token,
            &stranger,
            Algorithm::RS256,
            "jitsi",
            "chat",
            APP_ID,
            mine.as_str(),
            t(10, 0)
        )
        .is_err());
    }

    #[test]
    fn features_are_granted_to_the_moderator_only_when_configured() {
        let (private, public) = rsa_key_pair();
        let (jitsi, auth) = settings(&[
            ("JITSI_AUTH", "jaas"),
            ("JAAS_APP_ID", APP_ID),
            ("JAAS_KEY_ID", "k1"),
            ("JAAS_PRIVATE_KEY", &private),
            ("JITSI_FEATURES", "recording, transcription"),
        ])
        .unwrap();
        let key = DecodingKey::from_rsa_pem(public.as_bytes()).unwrap();
        let room = RoomName::mint();
        let features = |moderator| {
            let token = auth
                .access(&jitsi, &room, &user("u", moderator), window())
                .unwrap()
                .token
                .unwrap();
            verify_as_jitsi(
                &token,
                &key,
                Algorithm::RS256,
                "jitsi",
                "chat",
                APP_ID,
                room.as_str(),
                t(10, 0),
            )
            .unwrap()["context"]["features"]
                .clone()
        };
        assert_eq!(features(true)["recording"], "true");
        assert_eq!(features(true)["transcription"], "true");
        assert_eq!(features(true)["livestreaming"], "false");
        assert_eq!(features(true)["outbound-call"], "false");
        assert_eq!(features(false)["recording"], "false");
        assert!(Features::parse("recording,teleport").is_err());
    }

    #[test]
    fn self_hosted_tokens_are_hs256_with_the_app_secret() {
        let secret = "a-long-enough-self-hosted-secret";
        let (jitsi, auth) = settings(&[
            ("JITSI_AUTH", "self_hosted"),
            ("JITSI_DOMAIN", "video.example.org"),
            ("JITSI_APP_ID", "medichain"),
            ("JITSI_APP_SECRET", secret),
        ])
        .unwrap();
        let room = RoomName::mint();
        let access = auth
            .access(&jitsi, &room, &user("doc", true), window())
            .unwrap();
        assert_eq!(
            (access.domain.as_str(), access.room.as_str(), access.lobby),
            ("video.example.org", room.as_str(), true)
        );
        let token = access.token.unwrap();
        assert_eq!(decode_header(&token).unwrap().alg, Algorithm::HS256);
        let key = DecodingKey::from_secret(secret.as_bytes());
        let verify = |room: &RoomName, key: &DecodingKey| {
            verify_as_jitsi(
                &token,
                key,
                Algorithm::HS256,
                "medichain",
                "medichain",
                "video.example.org",
                room.as_str(),
                t(10, 0),
            )
        };
        let claims = verify(&room, &key).unwrap();
        assert_eq!(claims["exp"], t(11, 0).timestamp());
        assert_eq!(
            claims["context"]["user"],
            json!({ "id": "doc", "name": "Name of doc", "moderator": true, "affiliation": "owner" })
        );
        assert!(verify(&RoomName::mint(), &key).is_err());
        let wrong = DecodingKey::from_secret(b"another-secret-of-enough-length!");
        assert!(verify(&room, &wrong).is_err());

        // A configured audience replaces the app id in `aud`.
        let (jitsi, auth) = settings(&[
            ("JITSI_AUTH", "self_hosted"),
            ("JITSI_DOMAIN", "video.example.org"),
            ("JITSI_APP_ID", "medichain"),
            ("JITSI_TOKEN_AUDIENCE", "jitsi"),
            ("JITSI_APP_SECRET", secret),
        ])
        .unwrap();
        let token = auth
            .access(&jitsi, &room, &user("pat", false), window())
            .unwrap()
            .token
            .unwrap();
        let claims = verify_as_jitsi(
            &token,
            &key,
            Algorithm::HS256,
            "jitsi",
            "medichain",
            "video.example.org",
            room.as_str(),
            t(10, 0),
        )
        .unwrap();
        assert_eq!(claims["context"]["user"]["affiliation"], "member");
        assert_eq!(claims["context"]["user"]["moderator"], false);
    }

    #[test]
    fn the_public_default_has_no_token_and_no_lobby() {
        let (jitsi, auth) = settings(&[]).unwrap();
        let room = RoomName::mint();
        let access = auth
            .access(&jitsi, &room, &user("u", true), window())
            .unwrap();
        assert_eq!(
            access,
            RoomAccess {
                domain: "meet.jit.si".into(),
                room: room.to_string(),
                token: None,
                lobby: false
            }
        );
    }

    #[test]
    fn bad_token_settings_fail_at_start_without_showing_secrets() {
        let (private, _) = rsa_key_pair();
        let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
            (vec![("JITSI_AUTH", "magic")], "JITSI_AUTH"),
            (vec![("JITSI_AUTH", "jaas")], "JAAS_APP_ID"),
            (
                vec![("JITSI_AUTH", "jaas"), ("JAAS_APP_ID", APP_ID)],
                "JAAS_KEY_ID",
            ),
            (
                vec![
                    ("JITSI_AUTH", "jaas"),
                    ("JAAS_APP_ID", APP_ID),
                    ("JAAS_KEY_ID", "k1"),
                ],
                "JAAS_PRIVATE_KEY",
            ),
            (
                vec![
                    ("JITSI_AUTH", "jaas"),
                    ("JAAS_APP_ID", APP_ID),
                    ("JAAS_KEY_ID", "vpaas-magic-cookie-other/k1"),
                    ("JAAS_PRIVATE_KEY", &private),
                ],
                "JAAS_KEY_ID",
            ),
            (
                vec![
                    ("JITSI_AUTH", "jaas"),
                    ("JAAS_APP_ID", APP_ID),
                    ("JAAS_KEY_ID", "k1"),
                    (
                        "JAAS_PRIVATE_KEY",
                        "-----BEGIN PRIVATE KEY-----\nnot-a-key-s3cr3t\n",
                    ),
                ],
                "JAAS_PRIVATE_KEY",
            ),
            (
                vec![
                    ("JITSI_AUTH", "self_hosted"),
                    ("JITSI_APP_ID", "medichain"),
                    ("JITSI_APP_SECRET", "short-s3cr3t"),
                ],
                "JITSI_APP_SECRET",
            ),
        ];
        for (env, field) in cases {
            let err = settings(&env).unwrap_err();
            assert_eq!(err.field, field, "{env:?}");
            assert!(!err.to_string().contains("s3cr3t"), "{err}");
        }
    }

    #[test]
    fn pkcs1_keys_are_accepted_and_short_keys_fail_at_start() {
        let (private, public) = rsa_key_pair();
        let env = |key: &str| {
            settings(&[
                ("JITSI_AUTH", "jaas"),
                ("JAAS_APP_ID", APP_ID),
                ("JAAS_KEY_ID", "k1"),
                ("JAAS_PRIVATE_KEY", key),
            ])
        };
        let (jitsi, auth) = env(&to_pkcs1(&private)).unwrap();
        let room = RoomName::mint();
        let token = auth
            .access(&jitsi, &room, &user("u", false), window())
            .unwrap()
            .token
            .unwrap();
        let key = DecodingKey::from_rsa_pem(public.as_bytes()).unwrap();
        let verified = verify_as_jitsi(
            &token,
            &key,
            Algorithm::RS256,
            "jitsi",
            "chat",
            APP_ID,
            room.as_str(),
            t(10, 0),
        );
        assert!(verified.is_ok(), "{verified:?}");
        // ring signs with 2048-4096-bit keys only: a 1024-bit key is a clear start-up error.
        let short = openssl_key(&["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"]);
        let err = env(&short).unwrap_err();
        assert_eq!(err.field, "JAAS_PRIVATE_KEY");
        assert!(err.to_string().contains("2048-4096 bits"), "{err}");
    }

    #[test]
    fn keys_come_from_files_and_ssm_parameters_too() {
        let (private, _) = rsa_key_pair();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jaas.pem");
        std::fs::write(&path, &private).unwrap();
        let (_, auth) = settings(&[
            ("JITSI_AUTH", "jaas"),
            ("JAAS_APP_ID", APP_ID),
            ("JAAS_KEY_ID", "k1"),
            ("JAAS_PRIVATE_KEY_FILE", path.to_str().unwrap()),
        ])
        .unwrap();
        assert_eq!(auth.mode(), "jaas");
        assert!(auth.parameters_to_load().is_empty());
        assert!(!format!("{auth:?}").contains("PRIVATE"));

        // A key in SSM: functions that do not fetch it can still start, but hand out nothing.
        let env = HashMap::from([
            ("JITSI_AUTH", "jaas"),
            ("JAAS_APP_ID", APP_ID),
            ("JAAS_KEY_ID", "k1"),
            ("JAAS_PRIVATE_KEY_PARAMETER", "/medichain/jaas-key"),
        ]);
        let get = |k: &str| env.get(k).map(|v| v.to_string());
        let unloaded = crate::config::AppConfig::from_lookup(get).unwrap();
        assert_eq!(unloaded.jitsi_auth.mode(), "jaas");
        assert_eq!(unloaded.secret_parameters(), ["/medichain/jaas-key"]);
        let err = unloaded
            .jitsi_auth
            .access(
                &unloaded.jitsi,
                &RoomName::mint(),
                &user("u", false),
                window(),
            )
            .unwrap_err();
        assert!(matches!(err, TokenError::Unloaded(_)));

        // The join function fetches it at cold start.
        let mut fetched = FetchedSecrets::default();
        fetched.insert("/medichain/jaas-key", secret::Secret::new(private));
        let loaded = unloaded.with_loaded_secrets(&fetched).unwrap();
        assert!(loaded.secret_parameters().is_empty());
        assert!(loaded
            .jitsi_auth
            .access(
                &loaded.jitsi,
                &RoomName::mint(),
                &user("u", false),
                window()
            )
            .unwrap()
            .token
            .is_some());
        assert!(!format!("{loaded:?}").contains("PRIVATE"));
        // A fetched value that is not a key fails the cold start, naming no content.
        let mut bad = FetchedSecrets::default();
        bad.insert("/medichain/jaas-key", secret::Secret::new("s3cr3t-garbage"));
        let unloaded = crate::config::AppConfig::from_lookup(get).unwrap();
        let err = unloaded.with_loaded_secrets(&bad).unwrap_err();
        assert_eq!(err.field, "JAAS_PRIVATE_KEY");
        assert!(!err.to_string().contains("s3cr3t"));
    }
}
