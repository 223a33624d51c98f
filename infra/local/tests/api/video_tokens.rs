//! Token-authenticated rooms through the local server: with JaaS configured, each participant gets
//! a token for this room and this join window only, verified here with the public key.

use std::collections::HashMap;
use std::process::Command;

use chrono::Duration;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use medichain::config::AppConfig;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::*;
use crate::video_rooms::{book_one, join, set_clock};

const APP_ID: &str = "vpaas-magic-cookie-00112233445566778899aabbccddeeff";

/// A fresh RSA key pair (private PEM, public PEM), made by openssl at test time: no private key
/// is ever committed.
fn rsa_key_pair() -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let private = dir.path().join("private.pem");
    let public = dir.path().join("public.pem");
    for args in [
        vec![
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            private.to_str().unwrap(),
        ],
        vec![
            "pkey",
            "-in",
            private.to_str().unwrap(),
            "-pubout",
            "-out",
            public.to_str().unwrap(),
        ],
    ] {
        let status = Command::new("openssl")
            .args(&args)
            .output()
            .expect("the openssl command is needed to make test keys")
            .status;
        assert!(status.success(), "openssl {args:?}");
    }
    (
        std::fs::read_to_string(private).unwrap(),
        std::fs::read_to_string(public).unwrap(),
    )
}

/// Verifies `token` as JaaS would for `room` at the token's own claims' times: signature, alg,
/// kid, aud, iss, sub, room.
fn verify_for_room(token: &str, public: &DecodingKey, room: &str) -> Result<Value, String> {
    let header = decode_header(token).map_err(|e| e.to_string())?;
    if header.kid.as_deref() != Some(&*format!("{APP_ID}/test-key")) {
        return Err(format!("kid {:?}", header.kid));
    }
    let mut v = Validation::new(Algorithm::RS256);
    v.set_audience(&["jitsi"]);
    v.set_issuer(&["chat"]);
    v.sub = Some(APP_ID.into());
    v.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub"]);
    // The server's dev clock is ahead of the system clock: times are checked against it below.
    v.validate_exp = false;
    v.validate_nbf = false;
    let claims = decode::<Value>(token, public, &v)
        .map_err(|e| e.to_string())?
        .claims;
    if claims["room"] != room {
        return Err(format!("the token is for room {}", claims["room"]));
    }
    Ok(claims)
}

#[tokio::test]
async fn with_jaas_each_participant_gets_a_token_for_this_room_and_window_only() {
    let (private, public) = rsa_key_pair();
    let env = HashMap::from([
        ("JITSI_AUTH", "jaas"),
        ("JAAS_APP_ID", APP_ID),
        ("JAAS_KEY_ID", "test-key"),
        ("JAAS_PRIVATE_KEY", private.as_str()),
    ]);
    let config = AppConfig::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap();
    let app = TestApp::spawn_with_config(config).await;
    let patient = app.login(PATIENT).await;
    let doctor = app.login(DOCTOR).await;
    let a = book_one(&app, &patient).await;
    let other = {
        let (_, slots) = app.next_free_day(&patient, DOCTOR).await;
        json_of(app.book(&patient, DOCTOR, &slots[1]).await).await["room_name"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    // Before the window: no token at all.
    assert_problem(join(&app, &patient, &a.id).await, StatusCode::FORBIDDEN).await;
    set_clock(&app, a.start - Duration::minutes(10));

    let key = DecodingKey::from_rsa_pem(public.as_bytes()).unwrap();
    for (token, moderator, name) in [
        (&patient, "false", "Jordan Rivera"),
        (&doctor, "true", "Dr. Amara Okafor"),
    ] {
        let body = json_of(join(&app, token, &a.id).await).await;
        assert_eq!(body["domain"], "8x8.vc");
        assert_eq!(body["room"], format!("{APP_ID}/{}", a.room));
        assert_eq!(body["lobby"], true);
        assert_eq!(body["moderator"], moderator == "true");
        let jwt = body["token"].as_str().expect("a token with JaaS");
        let claims = verify_for_room(jwt, &key, &a.room).unwrap();
        assert_eq!(claims["aud"], "jitsi");
        assert_eq!(claims["iss"], "chat");
        assert_eq!(claims["sub"], APP_ID);
        assert_eq!(claims["nbf"], (a.start - Duration::minutes(15)).timestamp());
        assert_eq!(claims["exp"], (a.end + Duration::minutes(30)).timestamp());
        assert_eq!(claims["context"]["user"]["moderator"], moderator);
        assert_eq!(claims["context"]["user"]["name"], name);
        assert_eq!(
            claims["context"]["features"],
            json!({"recording": "false", "livestreaming": "false", "transcription": "false", "outbound-call": "false"})
        );
        // The same token does not open another appointment's room.
        assert!(verify_for_room(jwt, &key, &other)
            .unwrap_err()
            .contains("the token is for room"));
    }
    // The stored meeting link names the JaaS tenant too.
    let appt = json_of(
        app.get(&patient, &format!("/api/appointments/{}", a.id))
            .await,
    )
    .await;
    assert!(appt["meeting_url"]
        .as_str()
        .unwrap()
        .starts_with(&format!("https://8x8.vc/{APP_ID}/{}", a.room)));
}
