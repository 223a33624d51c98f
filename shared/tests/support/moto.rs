//! One `moto_server` per test binary on a free loopback port, started on first use. Tests get
//! their own table on it, so they run in parallel without seeing each other's items.
//!
//! A missing `moto_server` fails the test with the install line: CI must never pass by skipping
//! the DynamoDB half of the suite.

use std::io::Read as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::Client;
use medichain::adapters::aws::https_client;

pub struct MotoServer {
    pub endpoint: String,
    /// The `sh` that owns moto; held so that its stdin stays open while this process lives.
    _child: Mutex<Child>,
}

/// moto runs under a small shell that waits on its stdin, which only this process holds: when
/// the test binary exits, however it exits, the shell reads end-of-file and stops moto. (A
/// `static` is never dropped, so a `Drop` impl could not do this.)
const SUPERVISOR: &str = r#"
python3 -c 'import moto.server' 2>/dev/null || {
    echo "moto_server is not installed; install it with: pip install 'moto[server]'" >&2
    exit 127
}
python3 -c "$SERIALISED_MOTO" "$1" >"${TMPDIR:-/tmp}/medichain-moto-$1.log" 2>&1 &
moto=$!
cat >/dev/null
kill "$moto" 2>/dev/null
"#;

/// `moto_server`'s own application and HTTP server, with one change: requests are handled one at
/// a time. DynamoDB applies each request atomically; moto does not. Its request threads check a
/// condition and write without a lock, and `TransactWriteItems` copies the tables first and puts
/// the copy back when a condition fails, undoing what other requests wrote in between. On a
/// slow machine the contract suite's concurrency tests saw 6 takers of a quota of 5 and 13
/// bookings of one slot. Handling one request at a time gives moto DynamoDB's per-request
/// atomicity, which is what those tests hold the adapter to.
const SERIALISED_MOTO: &str = r#"
import sys, threading
from werkzeug.serving import run_simple
from moto.server import DomainDispatcherApplication, create_backend_app

app = DomainDispatcherApplication(create_backend_app)
one_at_a_time = threading.Lock()

def serialised(environ, start_response):
    with one_at_a_time:
        return list(app(environ, start_response))

run_simple("127.0.0.1", int(sys.argv[1]), serialised, threaded=True)
"#;

static SERVER: OnceLock<MotoServer> = OnceLock::new();
static TABLES: AtomicU32 = AtomicU32::new(0);

pub fn server() -> &'static MotoServer {
    SERVER.get_or_init(start)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn start() -> MotoServer {
    let port = free_port();
    let mut child = Command::new("sh")
        .env("SERIALISED_MOTO", SERIALISED_MOTO)
        .arg("-c")
        .arg(SUPERVISOR)
        .arg("moto-supervisor")
        .arg(port.to_string())
        // moto writes files relative to its working directory (e.g. the request recording some
        // tests read back): keep them out of the source tree.
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh starts");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let mut why = String::new();
            if let Some(mut err) = child.stderr.take() {
                let _ = err.read_to_string(&mut why);
            }
            panic!("moto_server did not start ({status}): {why}");
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "moto_server did not listen on {addr} within 30 s (log: /tmp/medichain-moto-{port}.log)"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    MotoServer {
        endpoint: format!("http://{addr}"),
        _child: Mutex::new(child),
    }
}

/// A DynamoDB client for moto with explicit dummy credentials and region, so nothing in the
/// environment (a developer's real profile) can send test traffic anywhere else.
pub fn config() -> aws_sdk_dynamodb::config::Builder {
    aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .endpoint_url(&server().endpoint)
        .http_client(https_client())
}

pub async fn client() -> Client {
    Client::from_conf(config().build())
}

pub fn unique_table_name() -> String {
    format!(
        "medichain-test-{}-{}",
        std::process::id(),
        TABLES.fetch_add(1, Ordering::SeqCst)
    )
}
