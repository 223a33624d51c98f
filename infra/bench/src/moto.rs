//! A `moto_server` on a free loopback port for the runs that need AWS APIs (the call count, the
//! memory of the real function binaries). It runs under a shell that waits on a pipe only this
//! process holds, so it stops when the benchmark exits, however it exits.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;

const SUPERVISOR: &str = r#"
command -v moto_server >/dev/null 2>&1 || {
    echo "moto_server is not on PATH; install it with: pip install 'moto[server]'" >&2
    exit 127
}
moto_server -H 127.0.0.1 -p "$1" >"${TMPDIR:-/tmp}/medichain-bench-moto-$1.log" 2>&1 &
moto=$!
cat >/dev/null
kill "$moto" 2>/dev/null
"#;

pub struct Moto {
    pub endpoint: String,
    _child: Child,
}

impl Moto {
    pub fn start() -> anyhow::Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(SUPERVISOR)
            .arg("moto-supervisor")
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting sh for moto_server")?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(status) = child.try_wait()? {
                anyhow::bail!("moto_server did not start ({status})");
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "moto_server did not listen on {addr} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(Self {
            endpoint: format!("http://{addr}"),
            _child: child,
        })
    }
}
