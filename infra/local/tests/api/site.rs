//! The local server serves the static site, with the video page at `/video/{room}`.

use reqwest::StatusCode;

use crate::support::*;

#[tokio::test]
async fn the_site_and_the_video_page_are_served_with_security_headers() {
    let app = TestApp::spawn().await;
    let r = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("frame-ancestors 'none'"));
    assert!(!csp.contains("unsafe-inline"));
    assert!(r.text().await.unwrap().contains("MediChain"));
    let r = app
        .client
        .get(app.url("/video/medichain-0123456789abcdef0123456789abcdef"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("<html"));
    let r = app
        .client
        .get(app.url("/no-such-page"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_site_tooling_next_to_the_pages_is_not_served() {
    let app = TestApp::spawn().await;
    for path in [
        "/package.json",
        "/package-lock.json",
        "/tests/consultation.test.js",
        "/tests/support/server.js",
        "/node_modules/playwright-core/package.json",
    ] {
        let r = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let r = app.client.get(app.url("/js/app.js")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .client
        .get(app.url("/config.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}
