//! The Lambda side of the API: an API Gateway HTTP API (payload v2) event becomes an
//! [`ApiRequest`] with the caller taken from the JWT authorizer's claims.

use std::collections::HashMap;

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};

use super::auth::{caller_from_claims, AuthProblem};
use super::routes::Route;
use super::{ApiRequest, Deps};
use crate::domain::Caller;

/// Serves one API Gateway event with `route`'s handler.
pub async fn handle(
    deps: &Deps,
    route: &Route,
    event: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    let req = to_api_request(event);
    let response = route.call(deps, req).await;
    let mut out = Response::builder().status(response.status);
    if let Some(headers) = out.headers_mut() {
        headers.extend(response.headers);
    }
    Ok(out.body(Body::Binary(response.body.to_vec()))?)
}

pub fn to_api_request(event: Request) -> ApiRequest {
    let caller = caller_from_context(event.request_context_ref());
    let path_params = event
        .path_parameters_ref()
        .map(|p| {
            p.iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let query = event
        .query_string_parameters_ref()
        .map(|q| {
            q.iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let (parts, body) = event.into_parts();
    let body = match body {
        Body::Empty => bytes::Bytes::new(),
        Body::Text(t) => t.into(),
        Body::Binary(b) => b.into(),
        _ => bytes::Bytes::new(),
    };
    ApiRequest {
        method: parts.method,
        path_params,
        query,
        headers: parts.headers,
        body,
        caller,
    }
}

fn caller_from_context(ctx: Option<&RequestContext>) -> Result<Caller, AuthProblem> {
    let claims: Option<HashMap<String, String>> = match ctx {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .map(|jwt| jwt.claims.clone()),
        _ => None,
    };
    match claims {
        Some(claims) => caller_from_claims(&claims),
        None => Err(AuthProblem::Unauthenticated(
            "no authorizer claims on the request".into(),
        )),
    }
}
