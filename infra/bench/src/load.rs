//! A closed-loop HTTP/1.1 load generator for loopback: a fixed number of keep-alive connections,
//! each sending its next request as soon as the previous answer is read, for a bounded time and a
//! bounded number of requests.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;

use crate::stats::quantile;

/// What one load run saw.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    pub requests: u64,
    /// Answers without the expected status, and transport failures.
    pub failures: u64,
    pub statuses: BTreeMap<u16, u64>,
    pub elapsed: Duration,
    pub latencies: Vec<Duration>,
}

impl LoadReport {
    /// Successful requests per second.
    pub fn throughput(&self) -> f64 {
        let ok = self.requests.saturating_sub(self.failures);
        ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn p50(&self) -> Duration {
        quantile(&self.latencies, 0.5)
    }

    pub fn p99(&self) -> Duration {
        quantile(&self.latencies, 0.99)
    }
}

/// Builds request number `i` (0-based, unique across connections).
pub type MakeRequest = dyn Fn(u64) -> http::Request<Full<Bytes>> + Send + Sync;

pub struct LoadPlan {
    pub addr: SocketAddr,
    pub connections: usize,
    pub duration: Duration,
    pub max_requests: u64,
    /// The status a successful answer has.
    pub expect: http::StatusCode,
}

pub async fn run(plan: LoadPlan, make: Arc<MakeRequest>) -> anyhow::Result<LoadReport> {
    let issued = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + plan.duration;
    let mut workers = Vec::new();
    for _ in 0..plan.connections.max(1) {
        let (make, issued) = (make.clone(), issued.clone());
        let (addr, max, expect) = (plan.addr, plan.max_requests, plan.expect);
        workers.push(tokio::spawn(async move {
            connection(addr, deadline, max, expect, &issued, make.as_ref()).await
        }));
    }
    let mut report = LoadReport::default();
    for w in workers {
        let part = w.await.context("a load connection panicked")??;
        report.requests += part.requests;
        report.failures += part.failures;
        for (status, n) in part.statuses {
            *report.statuses.entry(status).or_default() += n;
        }
        report.latencies.extend(part.latencies);
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

async fn connection(
    addr: SocketAddr,
    deadline: Instant,
    max: u64,
    expect: http::StatusCode,
    issued: &AtomicU64,
    make: &MakeRequest,
) -> anyhow::Result<LoadReport> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let driver = tokio::spawn(conn);
    let mut report = LoadReport::default();
    loop {
        if Instant::now() >= deadline {
            break;
        }
        let i = issued.fetch_add(1, Ordering::Relaxed);
        if i >= max {
            break;
        }
        let request = make(i);
        let sent = Instant::now();
        let answer = async {
            sender.ready().await?;
            let response = sender.send_request(request).await?;
            let status = response.status();
            response.into_body().collect().await?;
            Ok::<_, hyper::Error>(status)
        }
        .await;
        report.latencies.push(sent.elapsed());
        report.requests += 1;
        match answer {
            Ok(status) => {
                *report.statuses.entry(status.as_u16()).or_default() += 1;
                if status != expect {
                    report.failures += 1;
                }
            }
            Err(_) => {
                report.failures += 1;
                break;
            }
        }
    }
    driver.abort();
    Ok(report)
}

/// One POST of `body` as JSON on a fresh connection; the status and the answer as JSON.
pub async fn post_json(
    addr: SocketAddr,
    path: &str,
    body: &serde_json::Value,
) -> anyhow::Result<(http::StatusCode, serde_json::Value)> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let driver = tokio::spawn(conn);
    let request = http::Request::builder()
        .method(http::Method::POST)
        .uri(path)
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))?;
    let response = sender.send_request(request).await?;
    let status = response.status();
    let bytes = response.into_body().collect().await?.to_bytes();
    driver.abort();
    let value = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    Ok((status, value))
}
