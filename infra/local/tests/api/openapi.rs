//! The OpenAPI document and the route table stay in step.

use std::collections::BTreeSet;

use medichain::api::routes;
use reqwest::StatusCode;

use crate::support::*;

#[tokio::test]
async fn the_served_document_describes_exactly_the_routes_the_server_has() {
    let app = TestApp::spawn().await;
    let r = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let doc = json_of(r).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let served: BTreeSet<_> = routes::all()
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_owned()))
        .collect();
    assert_eq!(documented, served);
    // Every operation documents its problem responses with the problem media type.
    for (_, item) in doc["paths"].as_object().unwrap() {
        for (_, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.contains_key("401"));
            for (code, resp) in responses {
                if code.starts_with('4') || code.starts_with('5') {
                    assert!(
                        resp["content"]["application/problem+json"].is_object(),
                        "{code}"
                    );
                }
            }
        }
    }
}

/// A body over the limit is refused with 413 before anything else, on every route that takes a
/// body, and each of those routes documents it.
#[tokio::test]
async fn every_route_with_a_body_documents_the_413_it_answers_an_oversized_body_with() {
    let app = TestApp::spawn().await;
    let patient = app.login(PATIENT).await;
    let doc: serde_json::Value =
        serde_json::from_str(include_str!("../../../../docs/openapi.json")).unwrap();
    let huge = format!(r#"{{"x": "{}"}}"#, "a".repeat(20 * 1024));
    let id = "3f2c9a1e-0b7d-4c55-9a3e-1f2d3c4b5a69";
    let mut checked = 0;
    for route in routes::all() {
        if !matches!(route.method.as_str(), "POST" | "PUT") {
            continue;
        }
        let path = route.path.replace("{id}", id);
        let r = app
            .client
            .request(route.method.clone(), app.url(&path))
            .bearer_auth(&patient)
            .header("content-type", "application/json")
            .body(huge.clone())
            .send()
            .await
            .unwrap();
        assert_problem(r, StatusCode::PAYLOAD_TOO_LARGE).await;
        let method = route.method.as_str().to_lowercase();
        assert!(
            doc["paths"][route.path][&method]["responses"]["413"].is_object(),
            "{method} {} answers 413 but does not document it",
            route.path
        );
        checked += 1;
    }
    assert!(checked >= 7, "only {checked} routes with a body");
}
