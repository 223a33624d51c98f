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

pub mod secret;

use std::fmt;
use std::sync::Arc;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::domain::call::JoinWindow;
use crate::domain::{InvalidValue, JitsiSettings, RoomName, UserId};
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
                let key = EncodingKey::from_rsa_pem(pem.expose()).map_err(|_| {
                    InvalidValue::new("JAAS_PRIVATE_KEY", "must be an RSA private key in PEM form")
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
                    key: EncodingKey::from_secret(secret.expose()),
                }))
            }
        };
        // A probe signature: the RSA key parses lazily in some backends.
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
    key: EncodingKey,
    features: Features,
}

pub struct SelfHostedIssuer {
    app_id: String,
    audience: String,
    subject: String,
    key: EncodingKey,
}

/// The resolved token mode, holding key material. Its `Debug` names the mode and ids only.
#[derive(Clone, Default)]
pub enum JitsiAuth {
    #[default]
    None,
    Jaas(Arc<JaasIssuer>),
    SelfHosted(Arc<SelfHostedIssuer>),
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
        }
    }

    /// Access to `room` for `user`, valid (with a token) from the window's opening to its close.
    pub fn access(
        &self,
        jitsi: &JitsiSettings,
        room: &RoomName,
        user: &JitsiUser,
        window: JoinWindow,
    ) -> Result<RoomAccess, jsonwebtoken::errors::Error> {
        let (nbf, exp) = (window.opens_at.timestamp(), window.closes_at.timestamp());
        match self {
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
                let mut header = Header::new(Algorithm::RS256);
                header.kid = Some(j.kid.clone());
                header.typ = Some("JWT".into());
                Ok(RoomAccess {
                    domain: jitsi.domain().to_owned(),
                    room: format!("{}/{}", j.app_id, room),
                    token: Some(jsonwebtoken::encode(&header, &claims, &j.key)?),
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
                let mut header = Header::new(Algorithm::HS256);
                header.typ = Some("JWT".into());
                Ok(RoomAccess {
                    domain: jitsi.domain().to_owned(),
                    room: room.to_string(),
                    token: Some(jsonwebtoken::encode(&header, &claims, &s.key)?),
                    lobby: true,
                })
            }
        }
    }
}
