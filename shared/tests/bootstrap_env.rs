//! How a function finds its table: `bootstrap::aws_deps` reads `TABLE_NAME` and lets the SDK take
//! region, credentials and the endpoint override (`AWS_ENDPOINT_URL`) from the environment.
//! One test in this binary, because it alone changes the process environment.

mod support;

use medichain::bootstrap;
use medichain::ports::Directory;

use support::{doctor, moto};

#[tokio::test]
async fn functions_find_their_table_and_endpoint_in_the_environment() {
    bootstrap::init_tracing();
    // Nothing from a developer's machine may leak in (a profile, a real endpoint).
    for name in [
        "TABLE_NAME",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_SESSION_TOKEN",
    ] {
        std::env::remove_var(name);
    }

    let missing = bootstrap::aws_deps().await.err().map(|e| e.to_string());
    assert!(
        missing.as_deref().is_some_and(|m| m.contains("TABLE_NAME")),
        "a function without TABLE_NAME must fail at cold start: {missing:?}"
    );

    let store = support::dynamodb().await.store;
    store
        .put_doctor(&doctor("doc-1", "Ada Lane"))
        .await
        .unwrap();
    for (name, value) in [
        ("TABLE_NAME", store.table_name()),
        ("AWS_ENDPOINT_URL", moto::server().endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ] {
        std::env::set_var(name, value);
    }
    let deps = bootstrap::aws_deps().await.expect("the function wires up");
    let doctors = deps.directory.list_doctors().await.expect("moto answers");
    assert_eq!(doctors, [doctor("doc-1", "Ada Lane")]);
}
