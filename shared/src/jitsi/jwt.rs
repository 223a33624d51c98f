//! Signed JSON Web Tokens (compact JWS) for the two token modes: RS256 with the JaaS private key
//! and HS256 with a self-hosted deployment's app secret.
//!
//! Built here on `ring`, which every function links anyway for TLS, instead of `jsonwebtoken`
//! with the RustCrypto backend: that pulled `rsa`, `num-bigint`, `der`, `pkcs1/8`, `p256/p384`,
//! `ed25519` and a PEM/ASN.1 parser into every binary (about 140 KB arm64, docs/performance.md)
//! for two signatures. A token is `base64url(header) "." base64url(claims) "." base64url(sig)`
//! (RFC 7515 §7.1); the header is serialized field for field as `jsonwebtoken` did, so tokens are
//! byte-identical to the ones it made (a test compares them).

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use serde::Serialize;

/// Why a private key was refused. It names the problem, never the key's content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("no PEM block (-----BEGIN ...-----) found")]
    NotPem,
    #[error("the PEM block is not an RSA private key (PRIVATE KEY or RSA PRIVATE KEY)")]
    WrongKind,
    #[error("the PEM body is not valid base64")]
    Base64,
    /// ring's reason (`InvalidEncoding`, `TooSmall`, ...).
    #[error("the RSA key is malformed or unsupported (2048-4096 bits, exponent 65537): {0}")]
    Rejected(String),
}

/// Signing failed (for RSA: the system's random source, used for blinding, was unavailable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("signing the token failed")]
pub struct SignError;

/// A key that signs tokens.
pub enum SigningKey {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256(RsaKeyPair),
    /// HMAC with SHA-256.
    Hs256(ring::hmac::Key),
}

/// The JOSE header, field order as `jsonwebtoken::Header` serializes it.
#[derive(Serialize)]
struct Header<'a> {
    typ: &'static str,
    alg: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
}

impl SigningKey {
    /// An RSA private key in PEM: PKCS#8 (`-----BEGIN PRIVATE KEY-----`, what `openssl genpkey`
    /// and the JaaS console write) or PKCS#1 (`-----BEGIN RSA PRIVATE KEY-----`), the two forms
    /// the former `jsonwebtoken::EncodingKey::from_rsa_pem` accepted. The first PEM block counts.
    pub fn rs256_from_pem(pem: &[u8]) -> Result<Self, KeyError> {
        let (label, der) = first_pem_block(pem)?;
        let key = match label {
            "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&der),
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der),
            _ => return Err(KeyError::WrongKind),
        }
        .map_err(|e| KeyError::Rejected(e.to_string()))?;
        Ok(Self::Rs256(key))
    }

    /// A shared secret for HS256.
    pub fn hs256(secret: &[u8]) -> Self {
        Self::Hs256(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret))
    }

    fn alg(&self) -> &'static str {
        match self {
            Self::Rs256(_) => "RS256",
            Self::Hs256(_) => "HS256",
        }
    }

    /// The compact token for `claims`, with `typ: "JWT"` and `kid` when given.
    pub fn sign(&self, kid: Option<&str>, claims: &impl Serialize) -> Result<String, SignError> {
        let header = Header {
            typ: "JWT",
            alg: self.alg(),
            kid,
        };
        // Serializing these plain structs cannot fail; the error is mapped rather than unwrapped.
        let header = serde_json::to_vec(&header).map_err(|_| SignError)?;
        let claims = serde_json::to_vec(claims).map_err(|_| SignError)?;
        let mut token = URL_SAFE_NO_PAD.encode(header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(claims, &mut token);
        let signature = match self {
            Self::Rs256(key) => {
                let mut sig = vec![0; key.public().modulus_len()];
                key.sign(
                    &RSA_PKCS1_SHA256,
                    &ring::rand::SystemRandom::new(),
                    token.as_bytes(),
                    &mut sig,
                )
                .map_err(|_| SignError)?;
                sig
            }
            Self::Hs256(key) => ring::hmac::sign(key, token.as_bytes()).as_ref().to_vec(),
        };
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Ok(token)
    }
}

/// The label and decoded body of the first PEM block (RFC 7468): text between
/// `-----BEGIN <label>-----` and the matching `-----END <label>-----`, whitespace (including
/// CRLF line ends) ignored.
fn first_pem_block(pem: &[u8]) -> Result<(&str, Vec<u8>), KeyError> {
    let text = std::str::from_utf8(pem).map_err(|_| KeyError::NotPem)?;
    let after_begin = text
        .split_once("-----BEGIN ")
        .map(|(_, rest)| rest)
        .ok_or(KeyError::NotPem)?;
    let (label, rest) = after_begin.split_once("-----").ok_or(KeyError::NotPem)?;
    let end = format!("-----END {label}-----");
    let (body, _) = rest.split_once(end.as_str()).ok_or(KeyError::NotPem)?;
    let body: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = STANDARD.decode(body).map_err(|_| KeyError::Base64)?;
    Ok((label, der))
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{Algorithm, EncodingKey};
    use serde_json::json;

    use super::*;
    use crate::jitsi::tests::rsa_key_pair;

    fn claims() -> serde_json::Value {
        json!({ "aud": "jitsi", "room": "r", "nbf": 1, "exp": 2, "context": { "user": { "id": "u" } } })
    }

    /// The reference: what `jsonwebtoken` (the former signer, now a dev-dependency) makes.
    fn reference(alg: Algorithm, kid: Option<&str>, key: &EncodingKey) -> String {
        let mut header = jsonwebtoken::Header::new(alg);
        header.kid = kid.map(str::to_owned);
        header.typ = Some("JWT".into());
        jsonwebtoken::encode(&header, &claims(), key).unwrap()
    }

    #[test]
    fn rs256_tokens_are_byte_identical_to_jsonwebtoken_for_pkcs8_and_pkcs1_keys() {
        let (pkcs8, _) = rsa_key_pair();
        let pkcs1 = crate::jitsi::tests::to_pkcs1(&pkcs8);
        assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        for pem in [&pkcs8, &pkcs1] {
            let ours = SigningKey::rs256_from_pem(pem.as_bytes()).unwrap();
            let theirs = EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
            // PKCS#1 v1.5 signatures are deterministic, so the whole token must match.
            assert_eq!(
                ours.sign(Some("app/kid"), &claims()).unwrap(),
                reference(Algorithm::RS256, Some("app/kid"), &theirs)
            );
        }
        // CRLF line ends and text around the block are accepted, as they were.
        let crlf = format!("key follows\r\n{}\r\n", pkcs8.replace('\n', "\r\n"));
        assert!(SigningKey::rs256_from_pem(crlf.as_bytes()).is_ok());
    }

    #[test]
    fn hs256_tokens_are_byte_identical_to_jsonwebtoken() {
        let secret = b"a-long-enough-self-hosted-secret";
        assert_eq!(
            SigningKey::hs256(secret).sign(None, &claims()).unwrap(),
            reference(Algorithm::HS256, None, &EncodingKey::from_secret(secret))
        );
    }

    #[test]
    fn keys_that_cannot_sign_rs256_are_refused_with_a_reason() {
        let (private, public) = rsa_key_pair();
        let refused = |pem: &str| SigningKey::rs256_from_pem(pem.as_bytes()).err();
        assert_eq!(refused("s3cr3t-garbage"), Some(KeyError::NotPem));
        assert_eq!(refused(&public), Some(KeyError::WrongKind));
        assert_eq!(
            refused("-----BEGIN PRIVATE KEY-----\nnot*base64\n-----END PRIVATE KEY-----\n"),
            Some(KeyError::Base64)
        );
        assert!(matches!(
            refused("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
            Some(KeyError::Rejected(_))
        ));
        // No END line: not a PEM block.
        let cut = &private[..private.find("-----END").unwrap()];
        assert_eq!(refused(cut), Some(KeyError::NotPem));
        // A PKCS#1 body under the PKCS#8 label is refused, not misread.
        let pkcs1 = crate::jitsi::tests::to_pkcs1(&private);
        let mislabelled = pkcs1.replace("RSA PRIVATE KEY", "PRIVATE KEY");
        assert!(matches!(refused(&mislabelled), Some(KeyError::Rejected(_))));
        // An EC key is not an RSA key.
        let ec = crate::jitsi::tests::openssl_key(&[
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ]);
        assert!(matches!(refused(&ec), Some(KeyError::Rejected(_))));
    }
}
