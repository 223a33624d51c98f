//! The SDK clients' HTTP client: hyper-util's pooled client over rustls (ring), HTTP/1.1 only.
//!
//! Every AWS API the functions call (DynamoDB, SNS, EventBridge, Scheduler, SSM) speaks
//! HTTP/1.1, and the SDK sends one request per connection at a time. aws-smithy-http-client, the
//! SDK's own client, also brings an HTTP/2 stack (`h2`), a connection pool of its own that
//! routes between HTTP/1 and HTTP/2 connections, proxy support and its DNS abstraction: code no
//! function here runs, ~510 KB of every arm64 binary (docs/performance.md). This client keeps
//! what the functions need: a connection pool (hyper-util's, the one reqwest uses), TLS 1.2/1.3
//! with the AWS roots only, TCP_NODELAY, the SDK's connect and read timeouts, and the SDK's
//! error classes, so its retry policy treats a dropped connection or a timeout as transient.

use std::error::Error as StdError;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::retries::ErrorKind;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use hyper_util::client::legacy::connect::HttpConnector as TcpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

/// How long an idle pooled connection is kept. AWS endpoints close idle connections after a
/// while (DynamoDB after about a minute); a connection the server has closed fails its next
/// request, which the SDK retries, so keeping them for less than that avoids the wasted try.
/// A frozen Lambda environment does not run the pool's timer; the check happens on reuse.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// The HTTP client for SDK clients, trusting only the roots given (PEM certificates).
///
/// Plain `http://` endpoints work too (moto, the benchmark, the tests); `https://` ones must
/// present a chain to one of `roots`.
pub fn http_client(roots: &[&[u8]]) -> SharedHttpClient {
    let mut store = rustls::RootCertStore::empty();
    for pem in roots {
        let cert = CertificateDer::from_pem_slice(pem).expect("a compiled-in root is PEM");
        store
            .add(cert)
            .expect("a compiled-in root is a valid certificate");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports TLS 1.2 and 1.3")
        .with_root_certificates(store)
        .with_no_client_auth();
    SharedHttpClient::new(PooledClient {
        tls,
        connectors: Mutex::new(Vec::new()),
    })
}

/// Hands the SDK one connector per timeout setting (the SDK asks per client and operation;
/// the settings are the same for all here, so there is one pool in practice).
struct PooledClient {
    tls: rustls::ClientConfig,
    connectors: Mutex<Vec<(Timeouts, SharedHttpConnector)>>,
}

type Timeouts = (Option<Duration>, Option<Duration>);

impl fmt::Debug for PooledClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledClient").finish_non_exhaustive()
    }
}

impl HttpClient for PooledClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let timeouts = (settings.connect_timeout(), settings.read_timeout());
        // A poisoned lock only means another thread panicked while pushing: the list is intact.
        let mut connectors = self
            .connectors
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((_, connector)) = connectors.iter().find(|(t, _)| *t == timeouts) {
            return connector.clone();
        }
        let connector = SharedHttpConnector::new(self.connector(timeouts));
        connectors.push((timeouts, connector.clone()));
        connector
    }
}

impl PooledClient {
    fn connector(&self, (connect_timeout, read_timeout): Timeouts) -> Connector {
        let mut tcp = TcpConnector::new();
        // The scheme is the TLS layer's business: it passes `http://` through and wraps
        // `https://` in TLS.
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(connect_timeout);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(self.tls.clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        // The timer lets the pool close idle sockets in a long-running process (the local
        // server on DynamoDB); without it they are dropped only when next checked out.
        let pool = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .build(https);
        Connector { pool, read_timeout }
    }
}

type HyperClient = Client<hyper_rustls::HttpsConnector<TcpConnector>, SdkBody>;

/// One pool of connections, sending the SDK's requests.
#[derive(Clone)]
struct Connector {
    // Not named `client`: template_consistency reads `client.<operation>(` as an AWS SDK call.
    pool: HyperClient,
    read_timeout: Option<Duration>,
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("read_timeout", &self.read_timeout)
            .finish_non_exhaustive()
    }
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(err) => return HttpConnectorFuture::ready(Err(ConnectorError::user(err.into()))),
        };
        let response = self.pool.request(request);
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            // The read timeout bounds the wait for the response's head once the request is
            // handed over, as the SDK's own client does; the body is read by the SDK.
            let response = match read_timeout {
                Some(limit) => match tokio::time::timeout(limit, response).await {
                    Ok(result) => result,
                    Err(_) => {
                        return Err(ConnectorError::timeout(
                            format!("no response within the read timeout of {limit:?}").into(),
                        ))
                    }
                },
                None => response.await,
            };
            match response {
                Ok(response) => HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                    .map_err(|err| ConnectorError::other(err.into(), None)),
                Err(err) => Err(classify(err)),
            }
        })
    }
}

/// The SDK's class of a failed request, which decides whether it is retried: failing to
/// connect, a connection the server closed or reset, and a timeout are transient; a request
/// that could not be sent as built is the caller's; anything else is not retried.
fn classify(err: hyper_util::client::legacy::Error) -> ConnectorError {
    if err.is_connect() {
        return ConnectorError::io(err.into());
    }
    match source_of::<hyper::Error>(&err) {
        Some(hyper) if hyper.is_timeout() => ConnectorError::timeout(err.into()),
        Some(hyper) if hyper.is_user() => ConnectorError::user(err.into()),
        Some(hyper) if hyper.is_closed() || hyper.is_canceled() => ConnectorError::io(err.into()),
        Some(hyper) if hyper.is_incomplete_message() => {
            ConnectorError::other(err.into(), Some(ErrorKind::TransientError))
        }
        _ if source_of::<std::io::Error>(&err).is_some() => ConnectorError::io(err.into()),
        _ => ConnectorError::other(err.into(), None),
    }
}

/// The first error of type `E` in `err`'s chain of sources, `err` included.
fn source_of<'a, E: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a E> {
    let mut next = Some(err);
    while let Some(current) = next {
        if let Some(found) = current.downcast_ref::<E>() {
            return Some(found);
        }
        next = current.source();
    }
    None
}
