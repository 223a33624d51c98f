//! How every function binary is built, checked on the sources: each links without PIE (its
//! `build.rs`) and picks its route at compile time, the two choices that keep cold starts within
//! a millisecond or so of a hello world (docs/performance.md). A new function that copies
//! another's directory keeps both; one written from scratch is caught here.

use std::path::PathBuf;

fn functions() -> Vec<PathBuf> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../functions"));
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("functions/ exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .collect();
    found.sort();
    assert!(found.len() > 10, "found only {found:?}");
    found
}

#[test]
fn every_function_links_without_pie() {
    for f in functions() {
        let build = std::fs::read_to_string(f.join("build.rs"))
            .unwrap_or_else(|_| panic!("{} has no build.rs", f.display()));
        assert!(
            build.contains("cargo:rustc-link-arg-bins=-no-pie"),
            "{}/build.rs does not link without PIE",
            f.display()
        );
    }
}

#[test]
fn every_api_function_picks_its_route_at_compile_time() {
    for f in functions() {
        let main = std::fs::read_to_string(f.join("src/main.rs")).expect("src/main.rs");
        assert!(
            !main.contains("routes::for_function"),
            "{}: use `const {{ routes::served_by(env!(\"CARGO_PKG_NAME\")) }}`, which links only \
             this function's handler",
            f.display()
        );
    }
}

#[test]
fn no_function_links_aws_configs_credential_chain() {
    // Lambda gives a function its region and credentials in the environment; aws-config's chain
    // (profiles, SSO, STS, ECS, IMDS) cost ~400 KB of each arm64 binary (docs/performance.md).
    for f in functions() {
        let manifest = std::fs::read_to_string(f.join("Cargo.toml")).expect("Cargo.toml");
        assert!(
            !manifest.contains("aws-config") && !manifest.contains("aws-default-chain"),
            "{}: functions take their SDK configuration from medichain::bootstrap",
            f.display()
        );
    }
    let shared = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/Cargo.toml"
    ))
    .expect("shared/Cargo.toml");
    let aws_feature = shared
        .split("\naws = [")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .expect("medichain has an `aws` feature");
    assert!(
        !aws_feature.contains("aws-config"),
        "medichain's `aws` feature (what every function enables) must not pull aws-config"
    );
}
