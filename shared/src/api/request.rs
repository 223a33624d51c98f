//! A request as the handlers see it, whatever carried it (API Gateway or the local server), and
//! the checked readers for its parts: caller, path, query, headers and JSON body.

use std::collections::HashMap;

use bytes::Bytes;
use http::{header, HeaderMap, Method};
use serde::de::DeserializeOwned;

use super::auth::AuthProblem;
use super::ApiError;
use crate::domain::{Caller, Role};

/// The largest request body any route accepts.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub method: Method,
    pub path_params: HashMap<String, String>,
    pub query: HashMap<String, String>,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub caller: Result<Caller, AuthProblem>,
}

impl ApiRequest {
    pub fn new(method: Method, caller: Result<Caller, AuthProblem>) -> Self {
        Self {
            method,
            path_params: HashMap::new(),
            query: HashMap::new(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            caller,
        }
    }

    /// The signed-in caller, or 401/403.
    pub fn caller(&self) -> Result<&Caller, ApiError> {
        match &self.caller {
            Ok(c) => Ok(c),
            Err(AuthProblem::Unauthenticated(why)) => {
                Err(ApiError::Unauthorized(format!("Sign in first: {why}.")))
            }
            Err(AuthProblem::NoRole) => Err(ApiError::Forbidden(
                "Your account is neither a patient nor a doctor account.".into(),
            )),
        }
    }

    /// The caller, who must have `role`, or 403.
    pub fn caller_with_role(&self, role: Role) -> Result<&Caller, ApiError> {
        let caller = self.caller()?;
        if caller.role == role {
            Ok(caller)
        } else {
            Err(ApiError::Forbidden(format!("Only a {role} can do this.")))
        }
    }

    pub fn path_param(&self, name: &str) -> Result<&str, ApiError> {
        self.path_params
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| ApiError::BadRequest(format!("missing path parameter {name}")))
    }

    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }

    pub fn header(&self, name: &str) -> Result<Option<&str>, ApiError> {
        self.headers
            .get(name)
            .map(|v| {
                v.to_str()
                    .map_err(|_| ApiError::BadRequest(format!("{name}: must be visible ASCII")))
            })
            .transpose()
    }

    /// The JSON body: 413 when too large, 415 when not JSON, 400 when malformed, 422 when it does
    /// not hold what the route needs.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        if self.body.len() > MAX_BODY_BYTES {
            return Err(ApiError::PayloadTooLarge(format!(
                "The request body must be at most {MAX_BODY_BYTES} bytes."
            )));
        }
        if let Some(ct) = self.header(header::CONTENT_TYPE.as_str())? {
            let mime = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if mime != "application/json" && !mime.ends_with("+json") {
                return Err(ApiError::UnsupportedMediaType(
                    "Send the body as application/json.".into(),
                ));
            }
        }
        let body: &[u8] = if self.body.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &self.body
        };
        serde_json::from_slice(body).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => ApiError::Unprocessable {
                kind: "invalid-body",
                detail: e.to_string(),
            },
            _ => ApiError::BadRequest(format!("The body is not valid JSON: {e}")),
        })
    }
}

#[cfg(test)]
mod tests {
    use http::StatusCode;
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Input {
        n: u32,
    }

    fn with_body(body: &str, ct: Option<&str>) -> ApiRequest {
        let mut r = ApiRequest::new(Method::POST, Err(AuthProblem::NoRole));
        r.body = Bytes::from(body.to_owned());
        if let Some(ct) = ct {
            r.headers.insert(header::CONTENT_TYPE, ct.parse().unwrap());
        }
        r
    }

    #[test]
    fn bodies_map_to_the_right_status() {
        let cases: &[(&str, Option<&str>, Option<StatusCode>)] = &[
            (r#"{"n": 1}"#, Some("application/json"), None),
            (r#"{"n": 1}"#, Some("application/json; charset=utf-8"), None),
            (r#"{"n": 1}"#, None, None),
            (
                r#"{"n": "#,
                Some("application/json"),
                Some(StatusCode::BAD_REQUEST),
            ),
            (
                r#"{"n": -1}"#,
                Some("application/json"),
                Some(StatusCode::UNPROCESSABLE_ENTITY),
            ),
            (
                r#"{}"#,
                Some("application/json"),
                Some(StatusCode::UNPROCESSABLE_ENTITY),
            ),
            (
                r#"{"n": 1}"#,
                Some("text/plain"),
                Some(StatusCode::UNSUPPORTED_MEDIA_TYPE),
            ),
        ];
        for (body, ct, want) in cases {
            let got = with_body(body, *ct)
                .json::<Input>()
                .err()
                .map(|e| e.status());
            assert_eq!(got, *want, "body {body:?} with {ct:?}");
        }
        let huge = format!(r#"{{"n": 1, "x": "{}"}}"#, "a".repeat(MAX_BODY_BYTES));
        assert_eq!(
            with_body(&huge, None).json::<Input>().unwrap_err().status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
    }
}
