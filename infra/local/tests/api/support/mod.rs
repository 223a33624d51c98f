//! `TestApp`: a real local server on a free loopback port with its own data directory, and a
//! client that speaks to it like the web app does. API tests read like user stories on top.

#![allow(dead_code)]

use std::path::PathBuf;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use medichain_local::{start, Options, Server};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

pub const PATIENT: &str = "patient-rivera";
pub const OTHER_PATIENT: &str = "patient-schmidt";
pub const DOCTOR: &str = "doctor-okafor";
pub const OTHER_DOCTOR: &str = "doctor-becker";

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub server: Server,
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().to_path_buf();
        let mut app = Self::spawn_in(dir).await;
        app._tmp = Some(tmp);
        app
    }

    /// A server with `config` instead of the defaults (e.g. Jitsi token auth).
    pub async fn spawn_with_config(config: medichain::config::AppConfig) -> Self {
        let tmp = tempfile::tempdir().expect("temp dir");
        let mut app = Self::spawn_configured(tmp.path().to_path_buf(), config).await;
        app._tmp = Some(tmp);
        app
    }

    /// A server on an existing data directory (to test restarts).
    pub async fn spawn_in(data_dir: PathBuf) -> Self {
        Self::spawn_configured(data_dir, Options::defaults().config).await
    }

    async fn spawn_configured(data_dir: PathBuf, config: medichain::config::AppConfig) -> Self {
        let mut options = Options::defaults();
        options.addr = "127.0.0.1:0".parse().unwrap();
        options.data_dir = data_dir.clone();
        options.config = config;
        let server = start(options).await.expect("server starts");
        Self {
            base: format!("http://{}", server.addr),
            client: reqwest::Client::new(),
            server,
            data_dir,
            _tmp: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn login(&self, user_id: &str) -> String {
        let r = self
            .client
            .post(self.url("/dev/login"))
            .json(&json!({ "user_id": user_id }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "login as {user_id}");
        let body: Value = r.json().await.unwrap();
        body["token"].as_str().unwrap().to_owned()
    }

    pub async fn get(&self, token: &str, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn book(&self, token: &str, doctor: &str, start: &str) -> Response {
        self.post(
            token,
            "/api/appointments",
            json!({ "doctor_id": doctor, "start": start }),
        )
        .await
    }

    /// Free slots of `doctor` on a date of the doctor's calendar.
    pub async fn free_slots(&self, token: &str, doctor: &str, date: NaiveDate) -> Vec<String> {
        let r = self
            .get(token, &format!("/api/doctors/{doctor}/slots?date={date}"))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let body: Value = r.json().await.unwrap();
        body["slots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["start"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The first working day from tomorrow on with free slots, and those slots.
    pub async fn next_free_day(&self, token: &str, doctor: &str) -> (NaiveDate, Vec<String>) {
        let mut date = (Utc::now() + Duration::days(2)).date_naive();
        for _ in 0..10 {
            let slots = self.free_slots(token, doctor, date).await;
            if !slots.is_empty() {
                return (date, slots);
            }
            date = date.succ_opt().unwrap();
        }
        panic!("{doctor} has no free slots in the next 10 days");
    }
}

pub async fn json_of(r: Response) -> Value {
    r.json().await.expect("JSON body")
}

/// Asserts a problem response with `status` and returns its body.
pub async fn assert_problem(r: Response, status: StatusCode) -> Value {
    assert_eq!(r.status(), status, "unexpected status for {}", r.url());
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert_eq!(ct, "application/problem+json");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], status.as_u16());
    assert!(body["type"].as_str().unwrap().starts_with("/problems/"));
    assert!(!body["detail"].as_str().unwrap().is_empty());
    body
}

pub fn parse_time(raw: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(raw)
        .unwrap()
        .with_timezone(&Utc)
}
