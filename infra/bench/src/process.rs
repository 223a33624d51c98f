//! Running a function binary the way Lambda does (a clean environment, the Runtime API address,
//! credentials in variables) and measuring it from the outside: wall and CPU time up to its first
//! poll, peak memory, and the connections it opens.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::runtime_api::FakeRuntime;

/// How long a function may take to reach its first poll before the run counts as failed.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(20);

/// The environment Lambda gives a function, plus the function's own settings. Credentials are
/// dummies and every AWS endpoint points at `aws_endpoint` (a loopback port): nothing can leave
/// the machine, and any attempt to reach AWS is visible.
pub fn lambda_env(
    function: &str,
    runtime_api: &str,
    aws_endpoint: &str,
    home: &Path,
    extra: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = [
        ("AWS_LAMBDA_RUNTIME_API", runtime_api),
        ("AWS_LAMBDA_FUNCTION_NAME", function),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "bench"),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "bench"),
        ("AWS_SECRET_ACCESS_KEY", "bench"),
        ("AWS_SESSION_TOKEN", "bench"),
        ("AWS_ENDPOINT_URL", aws_endpoint),
        ("LANG", "C.UTF-8"),
        ("TZ", ":UTC"),
        ("RUST_LOG", "warn"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    // An empty home: no developer profile (~/.aws) can change what the SDK does.
    env.insert("HOME".into(), home.display().to_string());
    env.extend(extra.clone());
    env
}

pub fn spawn(binary: &Path, env: &BTreeMap<String, String>) -> anyhow::Result<Child> {
    Command::new(binary)
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))
}

/// One cold start, measured.
#[derive(Debug, Clone, Copy)]
pub struct ColdStart {
    /// From `exec` to the first poll of `/invocation/next`.
    pub wall: Duration,
    /// User + system CPU of all the process's threads up to that poll.
    pub cpu: Duration,
}

/// Starts `binary`, waits for its first poll, then kills it and reads its CPU time from the
/// kernel (`wait4`'s rusage covers every thread, finished ones too). The process is idle after
/// the poll, so what it used is what its init used.
pub async fn cold_start(
    binary: &Path,
    env: &BTreeMap<String, String>,
) -> anyhow::Result<ColdStart> {
    let mut runtime = FakeRuntime::start().await?;
    let mut env = env.clone();
    env.insert("AWS_LAMBDA_RUNTIME_API".into(), runtime.address());
    let started = Instant::now();
    let mut child = spawn(binary, &env)?;
    let pid = child.id() as libc::pid_t;
    let polled = tokio::select! {
        polled = runtime.first_poll(INIT_TIMEOUT) => polled,
        () = exited(pid) => None,
    };
    // SAFETY: plain syscall on our own child's pid.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
    let (rusage, _) = tokio::task::spawn_blocking(move || wait4(pid)).await??;
    let stderr = read_stderr(&mut child);
    let Some(polled) = polled else {
        anyhow::bail!(
            "{} never polled for an event: {}{}",
            binary.display(),
            runtime.init_error().unwrap_or_default(),
            stderr
        );
    };
    Ok(ColdStart {
        wall: polled - started,
        cpu: rusage,
    })
}

/// Resolves once `pid` has exited (a zombie waiting to be reaped), without reaping it.
async fn exited(pid: libc::pid_t) {
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // The state follows the parenthesised command name.
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next());
        if matches!(state, Some('Z') | None) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn read_stderr(child: &mut Child) -> String {
    use std::io::Read as _;
    let mut out = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut out);
    }
    let tail: String = out.lines().rev().take(5).collect::<Vec<_>>().join(" | ");
    tail
}

/// Reaps `pid` and returns its CPU time (user + system, all threads) and exit status.
fn wait4(pid: libc::pid_t) -> anyhow::Result<(Duration, i32)> {
    let mut status = 0;
    // SAFETY: rusage is plain data, zero is a valid value; wait4 fills it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own child; status and usage point at live locals.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    anyhow::ensure!(reaped == pid, "wait4 failed for pid {pid}");
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    Ok((tv(usage.ru_utime) + tv(usage.ru_stime), status))
}

/// The peak resident set (`VmHWM`) of a running process, in bytes.
pub fn peak_rss(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .context("no VmHWM in /proc status")?;
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .context("VmHWM without a value")?
        .parse()?;
    Ok(kb * 1024)
}

/// A listener that only counts the connections made to it: `AWS_ENDPOINT_URL` points here, so
/// a function that reaches for AWS during init is caught even without strace.
pub struct Sentinel {
    pub addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Sentinel {
    pub async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                drop(socket);
            }
        });
        Ok(Self {
            addr,
            accepted,
            task,
        })
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Every `connect` a function makes up to its first poll, traced with strace, except the ones to
/// the Runtime API. `None` when strace is not installed.
pub async fn connections_during_init(
    binary: &Path,
    env: &BTreeMap<String, String>,
    trace_dir: &Path,
) -> anyhow::Result<Option<Vec<String>>> {
    let Some(strace) = which("strace") else {
        return Ok(None);
    };
    let mut runtime = FakeRuntime::start().await?;
    let mut env = env.clone();
    env.insert("AWS_LAMBDA_RUNTIME_API".into(), runtime.address());
    let trace = trace_dir.join(format!(
        "{}.strace",
        binary.file_name().and_then(|n| n.to_str()).unwrap_or("fn")
    ));
    let mut child = Command::new(strace)
        .args(["-f", "-qq", "-e", "trace=connect", "-o"])
        .arg(&trace)
        .arg("--")
        .arg(binary)
        .env_clear()
        .envs(&env)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting strace")?;
    let polled = runtime.first_poll(INIT_TIMEOUT * 2).await;
    // Kill the traced function (strace's child), then strace ends by itself.
    let children =
        std::fs::read_to_string(format!("/proc/{}/task/{}/children", child.id(), child.id()))
            .unwrap_or_default();
    for pid in children.split_whitespace().filter_map(|p| p.parse().ok()) {
        // SAFETY: a pid strace started for us.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
    drop(runtime);
    let waited = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::task::spawn_blocking(move || child.wait()),
    )
    .await;
    anyhow::ensure!(waited.is_ok(), "strace did not finish");
    anyhow::ensure!(
        polled.is_some(),
        "{} never polled under strace",
        binary.display()
    );
    let text = std::fs::read_to_string(&trace)?;
    Ok(Some(foreign_connects(
        &text,
        &env["AWS_LAMBDA_RUNTIME_API"],
    )))
}

/// The `connect` lines of a trace that are not to the Runtime API (and not a refused or
/// in-progress status line of one that is).
pub fn foreign_connects(trace: &str, runtime_api: &str) -> Vec<String> {
    let (host, port) = runtime_api.rsplit_once(':').unwrap_or((runtime_api, ""));
    let runtime = format!("sin_port=htons({port}), sin_addr=inet_addr(\"{host}\")");
    trace
        .lines()
        .filter(|l| l.contains("connect("))
        .filter(|l| !l.contains(&runtime))
        .map(|l| l.trim().to_owned())
        .collect()
}

pub fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_connections_to_the_runtime_api_are_expected() {
        let trace = "\
123 connect(9, {sa_family=AF_INET, sin_port=htons(40001), sin_addr=inet_addr(\"127.0.0.1\")}, 16) = -1 EINPROGRESS
124 connect(10, {sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr(\"169.254.169.254\")}, 16) = 0
125 +++ exited with 0 +++";
        let foreign = foreign_connects(trace, "127.0.0.1:40001");
        assert_eq!(foreign.len(), 1);
        assert!(foreign[0].contains("169.254.169.254"));
        assert!(foreign_connects(trace, "127.0.0.1:443").len() == 2);
    }
}
