//! The Jitsi key read from SSM Parameter Store (a SecureString) at cold start, against
//! `moto_server`: the key that comes back signs tokens the public key verifies, and a missing
//! parameter fails with its name — never a value.

mod support;

use std::collections::HashMap;
use std::process::Command;

use aws_sdk_ssm::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ssm::types::ParameterType;
use jsonwebtoken::{decode, DecodingKey, Validation};
use medichain::adapters::aws::https_client;
use medichain::adapters::aws::parameters::{ParameterError, SsmParameters};
use medichain::config::AppConfig;
use medichain::domain::call::JoinWindow;
use medichain::domain::{RoomName, UserId};
use medichain::jitsi::JitsiUser;
use serde_json::Value;

const APP_ID: &str = "vpaas-magic-cookie-0123456789abcdef0123456789abcdef";

fn ssm() -> aws_sdk_ssm::Client {
    let conf = aws_sdk_ssm::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .endpoint_url(&support::moto::server().endpoint)
        .http_client(https_client())
        .build();
    aws_sdk_ssm::Client::from_conf(conf)
}

/// A fresh RSA key pair (private PEM, public PEM) made by openssl: no key is ever committed.
fn rsa_key_pair() -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let private = dir.path().join("private.pem");
    let public = dir.path().join("public.pem");
    let (p, q) = (private.to_str().unwrap(), public.to_str().unwrap());
    for args in [
        vec![
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            p,
        ],
        vec!["pkey", "-in", p, "-pubout", "-out", q],
    ] {
        let out = Command::new("openssl")
            .args(&args)
            .output()
            .expect("the openssl command is needed to make test keys");
        assert!(out.status.success(), "openssl {args:?}");
    }
    (
        std::fs::read_to_string(private).unwrap(),
        std::fs::read_to_string(public).unwrap(),
    )
}

fn jaas_env(parameter: &str) -> impl Fn(&str) -> Option<String> {
    let env: HashMap<String, String> = [
        ("JITSI_AUTH", "jaas"),
        ("JAAS_APP_ID", APP_ID),
        ("JAAS_KEY_ID", "k1"),
        ("JAAS_PRIVATE_KEY_PARAMETER", parameter),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    move |k| env.get(k).cloned()
}

#[tokio::test]
async fn the_jaas_key_comes_from_a_securestring_and_signs_verifiable_tokens() {
    let (private, public) = rsa_key_pair();
    let name = format!("/medichain/test/{}/jaas-key", std::process::id());
    let client = ssm();
    client
        .put_parameter()
        .name(&name)
        .r#type(ParameterType::SecureString)
        .value(&private)
        .send()
        .await
        .expect("moto stores the parameter");

    let config = AppConfig::from_lookup(jaas_env(&name)).unwrap();
    assert_eq!(config.secret_parameters(), vec![name.clone()]);
    let loaded = SsmParameters::new(client)
        .load_secrets(config)
        .await
        .expect("the key loads");
    assert!(loaded.secret_parameters().is_empty());
    assert!(!format!("{loaded:?}").contains("PRIVATE KEY"));

    let room = RoomName::mint();
    let now = chrono::Utc::now();
    let window = JoinWindow {
        opens_at: now - chrono::Duration::minutes(1),
        closes_at: now + chrono::Duration::hours(1),
    };
    let user = JitsiUser {
        id: UserId::parse("doctor-okafor").unwrap(),
        name: "Dr. Amara Okafor".into(),
        moderator: true,
    };
    let token = loaded
        .jitsi_auth
        .access(&loaded.jitsi, &room, &user, window)
        .unwrap()
        .token
        .unwrap();
    let mut v = Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_audience(&["jitsi"]);
    v.set_issuer(&["chat"]);
    v.sub = Some(APP_ID.into());
    let claims = decode::<Value>(
        &token,
        &DecodingKey::from_rsa_pem(public.as_bytes()).unwrap(),
        &v,
    )
    .expect("the public key verifies the token")
    .claims;
    assert_eq!(claims["room"], room.as_str());
    assert_eq!(claims["context"]["user"]["moderator"], "true");
}

#[tokio::test]
async fn a_missing_parameter_fails_the_cold_start_naming_it() {
    let name = format!("/medichain/test/{}/missing", std::process::id());
    let config = AppConfig::from_lookup(jaas_env(&name)).unwrap();
    let err = SsmParameters::new(ssm())
        .load_secrets(config)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ParameterError::Unreadable { name: n, .. } if *n == name),
        "{err}"
    );
    assert!(err.to_string().contains("ParameterNotFound"), "{err}");
}
