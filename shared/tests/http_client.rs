//! The SDK clients' HTTP client (`adapters::aws::http_client`) through a real SDK client against
//! small loopback servers: TLS with a trusted and an untrusted certificate, connection reuse,
//! the read timeout, and a retried dropped connection. Plain HTTP against moto is what every
//! other AWS test here exercises.
//!
//! The TLS server's certificate is made at run time by the `openssl` command (a throwaway key,
//! nothing kept in the repository).

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, SharedHttpClient};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::Client;
use aws_smithy_runtime_api::client::retries::ErrorKind;
use medichain::adapters::aws::http_client::http_client;
use medichain::adapters::aws::https_client;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

/// What a test server does with each connection it accepts, by the connection's number.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Answers every request on the connection with an empty table list.
    Answer,
    /// Reads the request and closes the connection without answering.
    Drop,
    /// Reads the request and never answers.
    Stall,
}

struct TestServer {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
}

/// A loopback HTTP/1.1 server speaking just enough DynamoDB for `ListTables`; over TLS when a
/// certificate and key are given. `behaviour(n)` decides for the n-th connection (from 0).
async fn serve(
    tls: Option<tokio_rustls::TlsAcceptor>,
    behaviour: fn(usize) -> Behaviour,
) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let connections = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let (counted, answered) = (connections.clone(), requests.clone());
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let n = counted.fetch_add(1, Ordering::SeqCst);
            let answered = answered.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                let behaviour = behaviour(n);
                match tls {
                    Some(acceptor) => {
                        // A client that refuses the certificate ends the handshake: nothing to do.
                        if let Ok(stream) = acceptor.accept(socket).await {
                            connection(stream, behaviour, answered).await;
                        }
                    }
                    None => connection(socket, behaviour, answered).await,
                }
            });
        }
    });
    TestServer {
        addr,
        connections,
        requests,
    }
}

async fn connection<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    behaviour: Behaviour,
    answered: Arc<AtomicUsize>,
) {
    let body = br#"{"TableNames":["from-the-test-server"]}"#;
    while read_request(&mut stream).await {
        match behaviour {
            Behaviour::Drop => return,
            Behaviour::Stall => {
                tokio::time::sleep(Duration::from_secs(60)).await;
                return;
            }
            Behaviour::Answer => {
                answered.fetch_add(1, Ordering::SeqCst);
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\n\
                     content-length: {}\r\n\r\n",
                    body.len()
                );
                if stream.write_all(head.as_bytes()).await.is_err()
                    || stream.write_all(body).await.is_err()
                    || stream.flush().await.is_err()
                {
                    return;
                }
            }
        }
    }
}

/// Reads one request (head and `content-length` body); false when the client closed.
async fn read_request<S: AsyncRead + Unpin>(stream: &mut S) -> bool {
    let mut data = Vec::new();
    let mut byte = [0u8; 1];
    while !data.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => data.push(byte[0]),
            _ => return false,
        }
    }
    let head = String::from_utf8_lossy(&data).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.is_ok()
}

/// A DynamoDB client on `endpoint` through `http`, with `attempts` tries per call.
fn dynamodb(endpoint: String, http: SharedHttpClient, attempts: u32) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .endpoint_url(endpoint)
        .http_client(http)
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(attempts)
                .with_initial_backoff(Duration::from_millis(1)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .read_timeout(Duration::from_millis(300))
                .build(),
        )
        .build();
    Client::from_conf(config)
}

/// The connector's failure inside an SDK error (panics on any other kind of error).
fn dispatch_failure<E: std::fmt::Debug, R: std::fmt::Debug>(
    err: &SdkError<E, R>,
) -> &aws_smithy_runtime_api::client::result::DispatchFailure {
    match err {
        SdkError::DispatchFailure(failure) => failure,
        other => panic!("expected a failure in the connector, got {other:?}"),
    }
}

/// A self-signed certificate for `localhost` and 127.0.0.1, and its key, as PEM.
fn certificate(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let status = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .arg("ec_paramgen_curve:prime256v1")
        .args(["-nodes", "-days", "1", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        // An end-entity certificate (openssl makes a CA by default, which webpki refuses to
        // accept as a server's own), trusted directly as the root.
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("the openssl command runs (Debian package openssl)");
    assert!(status.success(), "openssl made no certificate");
    (
        std::fs::read(cert).expect("certificate"),
        std::fs::read(key).expect("key"),
    )
}

fn acceptor(cert: &[u8], key: &[u8]) -> tokio_rustls::TlsAcceptor {
    let chain = vec![CertificateDer::from_pem_slice(cert).expect("PEM certificate")];
    let key = PrivateKeyDer::from_pem_slice(key).expect("PEM key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server certificate");
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

#[tokio::test]
async fn https_with_a_trusted_root_answers_and_an_untrusted_certificate_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = certificate(dir.path());
    let server = serve(Some(acceptor(&cert, &key)), |_| Behaviour::Answer).await;
    let endpoint = format!("https://localhost:{}", server.addr.port());

    let trusting = dynamodb(endpoint.clone(), http_client(&[&cert]), 1);
    let tables = trusting
        .list_tables()
        .send()
        .await
        .expect("TLS to a server whose certificate chains to a given root");
    assert_eq!(tables.table_names(), ["from-the-test-server"]);

    // The functions' client trusts the AWS roots only: the same server is refused before any
    // request is sent.
    let aws_only = dynamodb(endpoint, https_client(), 1);
    let err = aws_only
        .list_tables()
        .send()
        .await
        .expect_err("a certificate outside the AWS roots must be refused");
    let failure = dispatch_failure(&err);
    assert!(failure.is_io(), "a failed connection is I/O: {err:?}");
    assert_eq!(
        server.requests.load(Ordering::SeqCst),
        1,
        "only the trusting client's"
    );
}

#[tokio::test]
async fn consecutive_calls_reuse_one_pooled_connection() {
    let server = serve(None, |_| Behaviour::Answer).await;
    let client = dynamodb(format!("http://{}", server.addr), https_client(), 1);
    for _ in 0..5 {
        client.list_tables().send().await.expect("answered");
    }
    assert_eq!(server.requests.load(Ordering::SeqCst), 5);
    assert_eq!(server.connections.load(Ordering::SeqCst), 1, "keep-alive");
}

#[tokio::test]
async fn a_stalled_response_ends_at_the_read_timeout_as_a_timeout() {
    let server = serve(None, |_| Behaviour::Stall).await;
    let client = dynamodb(format!("http://{}", server.addr), https_client(), 1);
    let started = std::time::Instant::now();
    let err = client.list_tables().send().await.expect_err("no answer");
    let failure = dispatch_failure(&err);
    assert!(failure.is_timeout(), "{err:?}");
    // Bounded by the 300 ms read timeout, far below the server's 60 s stall.
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn a_dropped_connection_is_transient_and_the_sdk_retries_on_a_new_one() {
    // The first connection reads the request and closes; the next ones answer.
    let server = serve(None, |n| {
        if n == 0 {
            Behaviour::Drop
        } else {
            Behaviour::Answer
        }
    })
    .await;
    let client = dynamodb(format!("http://{}", server.addr), https_client(), 3);
    let tables = client
        .list_tables()
        .send()
        .await
        .expect("the retry on a fresh connection is answered");
    assert_eq!(tables.table_names(), ["from-the-test-server"]);
    assert_eq!(server.connections.load(Ordering::SeqCst), 2);

    // Without retries the same failure reaches the caller as I/O, the class the SDK retries.
    let once = serve(None, |_| Behaviour::Drop).await;
    let client = dynamodb(format!("http://{}", once.addr), https_client(), 1);
    let err = client.list_tables().send().await.expect_err("dropped");
    let failure = dispatch_failure(&err);
    // hyper reports a connection closed before the response as an incomplete message.
    assert!(
        failure.is_io() || failure.as_other() == Some(ErrorKind::TransientError),
        "{err:?}"
    );
}
