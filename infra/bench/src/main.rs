//! `medichain-bench`: the measurements behind `infra/bench/run.sh`, printed as one table.
//!
//! ```text
//! medichain-bench --bin-dir DIR [--arm64-dir DIR] [--quick] [--out FILE] [--only a,b]
//!                 [--cold-only | --load-only] [--server-bin FILE]
//! ```
//!
//! `--bin-dir` holds the function binaries, `bench-hello`, `bench-lambda` and `medichain-local`,
//! all built with the same profile (run.sh builds them; it passes the local server built with the
//! `server` profile as `--server-bin`); `--arm64-dir` holds `cargo lambda`'s
//! `<function>/bootstrap` files for the size check. Every connection stays on 127.0.0.1 and every
//! loop is bounded by a count and a time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::Full;
use medichain_bench::events::{self, Seeded};
use medichain_bench::lifecycle;
use medichain_bench::load::{self, LoadPlan, LoadReport};
use medichain_bench::moto::Moto;
use medichain_bench::process::{self, ColdStart, Sentinel};
use medichain_bench::report::{Table, Verdict};
use medichain_bench::runtime_api::FakeRuntime;
use medichain_bench::seed::{self, bench_doctor, bench_doctor_id};
use medichain_bench::stats::{delta_ms, mb, median, mib, ms, quantile};
use medichain_bench::{binary_markers, cost, sms};

/// A section's heading on stderr, with the seconds since the run began (where a slow run spends
/// its time).
macro_rules! section {
    ($started:expr, $($arg:tt)*) => {
        eprintln!("== {} ({:.0} s)", format!($($arg)*), $started.elapsed().as_secs_f64())
    };
}

/// How much each part measures: the full run, or the quick run CI uses to check that the
/// benchmark still works (it never judges a time).
#[derive(Debug, Clone, Copy)]
struct Plan {
    cold_runs: usize,
    warm_invokes: usize,
    memory_invokes: usize,
    load_time: Duration,
    load_connections: usize,
    traced_functions: usize,
}

const FULL: Plan = Plan {
    cold_runs: 15,
    warm_invokes: 1000,
    memory_invokes: 50,
    load_time: Duration::from_secs(5),
    load_connections: 16,
    traced_functions: usize::MAX,
};

const QUICK: Plan = Plan {
    cold_runs: 2,
    warm_invokes: 50,
    memory_invokes: 50,
    load_time: Duration::from_millis(500),
    load_connections: 4,
    traced_functions: 2,
};

/// Targets of issue 8.
const INIT_CPU_MARGIN: Duration = Duration::from_millis(5);
const WARM_P99: Duration = Duration::from_millis(1);
const MAX_ARM64_BYTES: u64 = 4_000_000;
const MAX_PEAK_RSS: u64 = 16 * 1024 * 1024;
const MIN_BOOKINGS_PER_SECOND: f64 = 2_000.0;
const MIN_SLOT_QUERIES_PER_SECOND: f64 = 10_000.0;
const LOAD_P99: Duration = Duration::from_millis(20);

struct Args {
    repo: PathBuf,
    bin_dir: PathBuf,
    arm64_dir: Option<PathBuf>,
    quick: bool,
    out: Option<PathBuf>,
    only: Option<Vec<String>>,
    /// Extra environment for every function process (`--env NAME=VALUE`), for experiments.
    env: BTreeMap<String, String>,
    /// Only the cold starts (`--cold-only`), for quick experiments on init.
    cold_only: bool,
    /// Only the local server's load (`--load-only`), for experiments on the embedded store.
    load_only: bool,
    /// The local server's binary (`--server-bin`); by default `medichain-local` in `--bin-dir`.
    /// `run.sh` builds it with the `server` profile (for speed), not the functions' `release`.
    server_bin: Option<PathBuf>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        repo: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")),
        bin_dir: PathBuf::new(),
        arm64_dir: None,
        quick: false,
        out: None,
        only: None,
        env: BTreeMap::new(),
        cold_only: false,
        load_only: false,
        server_bin: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--bin-dir" => args.bin_dir = PathBuf::from(value()?),
            "--arm64-dir" => args.arm64_dir = Some(PathBuf::from(value()?)),
            "--repo" => args.repo = PathBuf::from(value()?),
            "--out" => args.out = Some(PathBuf::from(value()?)),
            "--only" => args.only = Some(value()?.split(',').map(str::to_owned).collect()),
            "--quick" => args.quick = true,
            "--cold-only" => args.cold_only = true,
            "--load-only" => args.load_only = true,
            "--server-bin" => args.server_bin = Some(PathBuf::from(value()?)),
            "--env" => {
                let pair = value()?;
                let (k, v) = pair.split_once('=').context("--env takes NAME=VALUE")?;
                args.env.insert(k.to_owned(), v.to_owned());
            }
            other => anyhow::bail!("unknown argument {other:?}"),
        }
    }
    anyhow::ensure!(
        !args.bin_dir.as_os_str().is_empty(),
        "--bin-dir is required"
    );
    Ok(args)
}

/// Every function under `functions/` (its directory name is its binary name).
fn functions(repo: &Path, only: Option<&[String]>) -> anyhow::Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(repo.join("functions"))?
        .filter_map(Result::ok)
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| only.is_none_or(|o| o.iter().any(|x| x == n)))
        .collect();
    names.sort();
    Ok(names)
}

/// Settings every function may read at cold start, with harmless values. The AWS endpoint is
/// the sentinel (or moto), so nothing here can reach AWS.
fn function_settings(table: &str) -> BTreeMap<String, String> {
    [
        ("TABLE_NAME", table),
        ("SITE_URL", "https://app.medichain.example"),
        ("EVENT_BUS_NAME", "medichain-bench"),
        ("SCHEDULE_GROUP", "medichain-reminders"),
        (
            "REMINDER_FUNCTION_ARN",
            "arn:aws:lambda:us-east-1:123456789012:function:send-reminder",
        ),
        (
            "SCHEDULER_ROLE_ARN",
            "arn:aws:iam::123456789012:role/medichain-scheduler",
        ),
        (
            "REMINDER_DLQ_ARN",
            "arn:aws:sqs:us-east-1:123456789012:medichain-reminders-dlq",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let plan = if args.quick { QUICK } else { FULL };
    let functions = functions(&args.repo, args.only.as_deref())?;
    let work = tempdir("medichain-bench")?;
    let mut table = Table {
        quick: args.quick,
        ..Table::default()
    };
    let started = std::time::Instant::now();

    if args.load_only {
        section!(started, "local server load");
        local_load(&args, &plan, &work, &mut table).await?;
        println!("{}", table.markdown());
        let _ = std::fs::remove_dir_all(&work);
        return Ok(());
    }
    section!(started, "cold starts ({} runs each)", plan.cold_runs);
    cold_starts(&args, &plan, &functions, &work, &mut table).await?;
    if args.cold_only {
        println!("{}", table.markdown());
        return Ok(());
    }
    section!(started, "warm invokes on the embedded store");
    warm_invokes(&args, &plan, &work, &mut table).await?;
    section!(
        started,
        "function binaries against moto: memory after {} invokes",
        plan.memory_invokes
    );
    let moto = Moto::start()?;
    memory(&args, &plan, &functions, &moto, &work, &mut table).await?;
    section!(started, "binary sizes");
    sizes(&args, &functions, &mut table)?;
    section!(
        started,
        "AWS calls over an appointment's life (moto) and the cost model"
    );
    lifecycle_and_cost(&moto, &mut table).await?;
    section!(started, "SMS segments");
    sms::check(&mut table);
    section!(started, "local server load");
    local_load(&args, &plan, &work, &mut table).await?;

    let markdown = table.markdown();
    println!("{markdown}");
    let summary = format!(
        "{} rows, {} missed a target; {} run in {:.0} s",
        table.rows.len(),
        table.missed(),
        if args.quick { "quick" } else { "full" },
        started.elapsed().as_secs_f64()
    );
    println!("{summary}");
    if let Some(out) = &args.out {
        std::fs::write(out, format!("{markdown}\n{summary}\n"))?;
    }
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

fn tempdir(prefix: &str) -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn binary(args: &Args, name: &str) -> anyhow::Result<PathBuf> {
    let path = args.bin_dir.join(name);
    anyhow::ensure!(
        path.is_file(),
        "{} is missing (run infra/bench/run.sh, which builds it)",
        path.display()
    );
    Ok(path)
}

async fn cold_starts(
    args: &Args,
    plan: &Plan,
    functions: &[String],
    work: &Path,
    table: &mut Table,
) -> anyhow::Result<()> {
    let sentinel = Sentinel::start().await?;
    let home = work.join("home");
    std::fs::create_dir_all(&home)?;
    let mut settings = function_settings("medichain-bench");
    settings.extend(args.env.clone());
    let mut subjects = vec![("bench-hello".to_owned(), binary(args, "bench-hello")?)];
    for f in functions {
        subjects.push((f.clone(), binary(args, f)?));
    }
    let mut runs: BTreeMap<String, Vec<ColdStart>> = BTreeMap::new();
    let mut contacts: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures: BTreeMap<String, String> = BTreeMap::new();
    // Round-robin, so that a burst of load from other work on the machine hits every subject
    // alike and the ratios stay fair.
    for _ in 0..plan.cold_runs {
        for (name, path) in &subjects {
            let env = process::lambda_env(name, "", &sentinel.endpoint(), &home, &settings);
            let before = sentinel.connections();
            match process::cold_start(path, &env).await {
                Ok(run) => runs.entry(name.clone()).or_default().push(run),
                Err(e) => {
                    failures.insert(name.clone(), format!("{e:#}"));
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            *contacts.entry(name.clone()).or_default() += sentinel.connections() - before;
        }
    }
    let hello = runs.get("bench-hello").map(|r| {
        (
            median(&r.iter().map(|c| c.cpu).collect::<Vec<_>>()),
            median(&r.iter().map(|c| c.wall).collect::<Vec<_>>()),
        )
    });
    let Some((hello_cpu, hello_wall)) = hello else {
        anyhow::bail!(
            "the hello-world baseline did not start: {}",
            failures.get("bench-hello").cloned().unwrap_or_default()
        );
    };
    table.add(
        "cold init (exec → first poll)",
        "bench-hello (baseline)",
        format!("CPU {} p50, wall {} p50", ms(hello_cpu), ms(hello_wall)),
        "baseline",
        Verdict::Info,
    );
    let traces = work.join("traces");
    std::fs::create_dir_all(&traces)?;
    for (i, (name, path)) in subjects.iter().enumerate().skip(1) {
        let Some(r) = runs.get(name) else {
            table.add(
                "cold init (exec → first poll)",
                name,
                format!(
                    "did not start: {}",
                    failures.get(name).cloned().unwrap_or_default()
                ),
                "≤ hello + 5 ms CPU",
                Verdict::Missed,
            );
            continue;
        };
        let cpu = median(&r.iter().map(|c| c.cpu).collect::<Vec<_>>());
        let wall = median(&r.iter().map(|c| c.wall).collect::<Vec<_>>());
        let traced = if i <= plan.traced_functions {
            let env = process::lambda_env(name, "", &sentinel.endpoint(), &home, &settings);
            process::connections_during_init(path, &env, &traces).await?
        } else {
            None
        };
        let sentinel_hits = contacts.get(name).copied().unwrap_or(0);
        let network = match &traced {
            Some(foreign) if foreign.is_empty() => "no connection (strace, sentinel)".to_owned(),
            Some(foreign) => format!("{} connection(s): {}", foreign.len(), foreign.join("; ")),
            None if sentinel_hits == 0 => "no connection to the AWS endpoint (sentinel)".to_owned(),
            None => format!("{sentinel_hits} connection(s) to the AWS endpoint"),
        };
        let quiet = sentinel_hits == 0 && traced.as_ref().is_none_or(Vec::is_empty);
        table.add(
            "cold init (exec → first poll)",
            name,
            format!(
                "CPU {} p50 ({} vs hello), wall {} p50 ({}); {network}",
                ms(cpu),
                delta_ms(cpu, hello_cpu),
                ms(wall),
                delta_ms(wall, hello_wall)
            ),
            "CPU ≤ hello + 5 ms; no network",
            Verdict::from_check(cpu <= hello_cpu + INIT_CPU_MARGIN && quiet),
        );
    }
    Ok(())
}

/// Warm invokes of `bench-lambda` (the API through `lambda_http`, embedded store) and of the
/// hello world, through the fake Runtime API.
///
/// Each API function runs twice: with the SQLite file on disk (what the local server does), and
/// on a RAM file system when there is one (`/dev/shm`). The target is the handler's overhead, and
/// in Lambda the store is DynamoDB, not this file: on disk a write's p99 is SQLite's WAL
/// checkpoint (an fsync every few dozen bookings), which says nothing about the handler. So the
/// RAM run is the one judged; the disk run is shown beside it.
async fn warm_invokes(
    args: &Args,
    plan: &Plan,
    work: &Path,
    table: &mut Table,
) -> anyhow::Result<()> {
    let ram = Path::new("/dev/shm");
    // (data directory, label, judged): the disk run is judged only when there is no RAM run.
    let mut stores = vec![(
        work.join("warm-data"),
        "embedded store on disk",
        !ram.is_dir(),
    )];
    if ram.is_dir() {
        stores.push((
            ram.join(format!("medichain-bench-{}", std::process::id())),
            "embedded store in RAM",
            true,
        ));
    }
    // Each store has its own ids: the events of a run name what its own store holds.
    let mut seeds = Vec::new();
    for (data, _, _) in &stores {
        let store = medichain::adapters::embedded::EmbeddedStore::open(data)?;
        seeds.push(seed::seed(&store, 1, plan.warm_invokes + 10).await?);
    }
    let home = work.join("home");
    let hello = binary(args, "bench-hello")?;
    let env = process::lambda_env(
        "bench-hello",
        "",
        "http://127.0.0.1:9",
        &home,
        &BTreeMap::new(),
    );
    let floor = invoke_many(&hello, &env, plan.warm_invokes, |_| {
        Bytes::from_static(b"{\"hello\":\"world\"}")
    })
    .await?;
    table.add(
        "warm invoke (runtime API round trip)",
        "bench-hello (floor)",
        format!("p50 {}, p99 {}", ms(floor.p50()), ms(floor.p99())),
        "floor",
        Verdict::Info,
    );
    let api = binary(args, "bench-lambda")?;
    for ((data, store_label, judged), seeded) in stores.iter().zip(&seeds) {
        for function in ["list-slots", "get-appointment", "book-appointment"] {
            let fixture = events::fixture(&args.repo, function)?;
            let mut extra = BTreeMap::new();
            extra.insert("BENCH_FUNCTION".to_owned(), function.to_owned());
            extra.insert("BENCH_DATA_DIR".to_owned(), data.display().to_string());
            let env = process::lambda_env(function, "", "http://127.0.0.1:9", &home, &extra);
            let seeded = seeded.clone();
            let run = invoke_many(&api, &env, plan.warm_invokes, move |i| {
                let event = events::event_for(function, &fixture, &seeded, i);
                Bytes::from(event.to_string())
            })
            .await?;
            let ok = run.failures == 0;
            let verdict = if *judged {
                Verdict::from_check(ok && run.p99() < WARM_P99)
            } else if ok {
                Verdict::Info
            } else {
                Verdict::Missed
            };
            table.add(
                "warm invoke (runtime API round trip)",
                &format!("{function} ({store_label})"),
                format!(
                    "p50 {}, p99 {} over {} invokes{}",
                    ms(run.p50()),
                    ms(run.p99()),
                    run.requests,
                    if ok {
                        String::new()
                    } else {
                        format!(", {} failed: {:?}", run.failures, run.statuses)
                    }
                ),
                if *judged {
                    "p99 < 1 ms"
                } else {
                    "context (disk I/O)"
                },
                verdict,
            );
        }
    }
    for (data, _, _) in &stores {
        if data.starts_with(ram) {
            let _ = std::fs::remove_dir_all(data);
        }
    }
    Ok(())
}

/// Starts `binary`, sends it `count` events and measures each round trip. Answers are judged by
/// the API status inside them (2xx) or, for non-API functions, by reaching `/response`.
async fn invoke_many(
    binary: &Path,
    env: &BTreeMap<String, String>,
    count: usize,
    event: impl Fn(usize) -> Bytes,
) -> anyhow::Result<InvokeRun> {
    let mut runtime = FakeRuntime::start().await?;
    let mut env = env.clone();
    env.insert("AWS_LAMBDA_RUNTIME_API".into(), runtime.address());
    let mut child = tokio::process::Command::new(binary)
        .env_clear()
        .envs(&env)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    anyhow::ensure!(
        runtime.first_poll(process::INIT_TIMEOUT).await.is_some(),
        "{} did not start: {}",
        binary.display(),
        runtime.init_error().unwrap_or_default()
    );
    let mut run = InvokeRun::default();
    for i in 0..count {
        let outcome = runtime.invoke(event(i), Duration::from_secs(30)).await?;
        run.latencies.push(outcome.latency);
        run.requests += 1;
        let status = api_status(&outcome.body);
        let label = match (status, outcome.ok) {
            (Some(code), _) => code.to_string(),
            (None, true) => "ok".to_owned(),
            (None, false) => "error".to_owned(),
        };
        *run.statuses.entry(label).or_default() += 1;
        let good = outcome.ok && status.is_none_or(|s| (200..300).contains(&s));
        if !good {
            run.failures += 1;
        }
    }
    run.peak_rss = child.id().and_then(|pid| process::peak_rss(pid).ok());
    let _ = child.kill().await;
    Ok(run)
}

#[derive(Debug, Default)]
struct InvokeRun {
    requests: usize,
    failures: usize,
    statuses: BTreeMap<String, usize>,
    latencies: Vec<Duration>,
    peak_rss: Option<u64>,
}

impl InvokeRun {
    fn p50(&self) -> Duration {
        quantile(&self.latencies, 0.5)
    }

    fn p99(&self) -> Duration {
        quantile(&self.latencies, 0.99)
    }
}

/// The `statusCode` of an API Gateway response, if the answer is one.
fn api_status(body: &[u8]) -> Option<u16> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value.get("statusCode")?.as_u64().map(|s| s as u16)
}

/// Each function binary against moto: its own fixture event `memory_invokes` times, then its
/// peak resident set.
async fn memory(
    args: &Args,
    plan: &Plan,
    functions: &[String],
    moto: &Moto,
    work: &Path,
    table: &mut Table,
) -> anyhow::Result<()> {
    let table_name = "medichain-bench";
    let store = lifecycle::dynamodb_store(&moto.endpoint, table_name).await?;
    let seeded = seed::seed(&store, 1, plan.memory_invokes * 2 + 10).await?;
    lifecycle::prepare_outbound(&moto.endpoint).await?;
    let home = work.join("home");
    let settings = function_settings(table_name);
    for function in functions {
        let path = binary(args, function)?;
        let fixture = match events::fixture(&args.repo, function) {
            Ok(f) => f,
            Err(e) => {
                table.add(
                    "memory (VmHWM after invokes, moto)",
                    function,
                    format!("no event fixture: {e:#}"),
                    "≤ 16 MiB",
                    Verdict::Skipped,
                );
                continue;
            }
        };
        let env = process::lambda_env(function, "", &moto.endpoint, &home, &settings);
        let seeded: Seeded = seeded.clone();
        let name = function.clone();
        let run = invoke_many(&path, &env, plan.memory_invokes, move |i| {
            Bytes::from(events::event_for(&name, &fixture, &seeded, i).to_string())
        })
        .await;
        match run {
            Ok(run) => {
                let peak = run.peak_rss.unwrap_or(u64::MAX);
                table.add(
                    "memory (VmHWM after invokes, moto)",
                    function,
                    format!(
                        "{} after {} invokes (statuses {:?}; p50 {}, p99 {} incl. moto)",
                        mib(peak),
                        run.requests,
                        run.statuses,
                        ms(run.p50()),
                        ms(run.p99())
                    ),
                    "≤ 16 MiB",
                    Verdict::from_check(peak <= MAX_PEAK_RSS),
                );
            }
            Err(e) => table.add(
                "memory (VmHWM after invokes, moto)",
                function,
                format!("failed: {e:#}"),
                "≤ 16 MiB",
                Verdict::Missed,
            ),
        }
    }
    Ok(())
}

fn sizes(args: &Args, functions: &[String], table: &mut Table) -> anyhow::Result<()> {
    let mut names = vec!["bench-hello".to_owned()];
    names.extend(functions.iter().cloned());
    for name in &names {
        let host = args.bin_dir.join(name);
        let host_size = std::fs::metadata(&host).map(|m| m.len()).ok();
        let linked = std::fs::read(&host)
            .map(|bytes| binary_markers::services_in(&bytes).join(", "))
            .unwrap_or_default();
        let arm64 = args
            .arm64_dir
            .as_ref()
            .map(|dir| dir.join(name).join("bootstrap"));
        let arm64_size = arm64
            .as_ref()
            .and_then(|p| std::fs::metadata(p).ok())
            .map(|m| m.len());
        let host_text = host_size.map(mb).unwrap_or_else(|| "missing".into());
        let sdk = if linked.is_empty() {
            "no AWS SDK".to_owned()
        } else {
            format!("SDKs: {linked}")
        };
        let (result, verdict) = match arm64_size {
            Some(size) => (
                format!("arm64 {} (host {host_text}); {sdk}", mb(size)),
                if name == "bench-hello" {
                    Verdict::Info
                } else {
                    Verdict::from_check(size <= MAX_ARM64_BYTES)
                },
            ),
            None => (
                format!("arm64 not built in this run (host {host_text}); {sdk}"),
                Verdict::Skipped,
            ),
        };
        table.add(
            "binary size (stripped)",
            name,
            result,
            "arm64 ≤ 4 MB",
            verdict,
        );
    }
    Ok(())
}

async fn lifecycle_and_cost(moto: &Moto, table: &mut Table) -> anyhow::Result<()> {
    const MEASURE: &str = "AWS calls (SDK interceptor, moto)";
    let life = lifecycle::run(&moto.endpoint).await?;
    // Every call on the progress log, for reading where the units go.
    for step in &life.steps {
        for c in &step.calls {
            eprintln!(
                "   {:<20} {:<11} {:<22} {:>4} WRU {:>4} RRU",
                step.name, c.service, c.operation, c.write_units, c.read_units
            );
        }
    }
    for step in &life.steps {
        let (target, verdict) = if step.name == "book" {
            (
                "1 TransactWriteItems, no reads",
                Verdict::from_check(life.booking_is_one_transaction()),
            )
        } else {
            ("", Verdict::Info)
        };
        table.add(MEASURE, step.name, step.describe(), target, verdict);
    }
    table.add(
        MEASURE,
        "one appointment's life (book + 2 reminders)",
        format!("{} calls ({})", life.total_calls(), lifecycle::SCENARIO),
        "≤ 11",
        Verdict::from_check(life.total_calls() <= 11),
    );
    let usage = life.usage();
    let lines = cost::bill(&usage, &cost::US_EAST_1);
    const COST: &str = "cost per 1,000 appointments";
    for l in lines.iter().filter(|l| l.per_appointment > 0.0) {
        table.add(
            COST,
            l.item,
            format!(
                "{:.3} per appointment → ${:.5}",
                l.per_appointment, l.per_thousand_usd
            ),
            "",
            Verdict::Info,
        );
    }
    table.add(
        COST,
        "total, us-east-1 list prices, no free tier",
        format!(
            "${:.4} (SMS excluded: {:.0} per appointment, priced per country)",
            cost::total_per_thousand(&lines),
            usage.sms_messages
        ),
        "≤ $0.02",
        Verdict::from_check(cost::total_per_thousand(&lines) <= 0.02),
    );
    Ok(())
}

/// The local server (release binary, embedded store) under loopback load.
async fn local_load(
    args: &Args,
    plan: &Plan,
    work: &Path,
    table: &mut Table,
) -> anyhow::Result<()> {
    let server_bin = match &args.server_bin {
        Some(path) => {
            anyhow::ensure!(path.is_file(), "{} is missing", path.display());
            path.clone()
        }
        None => binary(args, "medichain-local")?,
    };
    let data = work.join("load-data");
    let doctors = 12;
    let bookings_wanted = if args.quick { 2_000 } else { 20_000 };
    {
        let store = medichain::adapters::embedded::EmbeddedStore::open(&data)?;
        seed::seed(&store, doctors, 10).await?;
    }
    // Bookings come from many patients (a patient may hold only so many upcoming
    // appointments); their tokens are signed with the server's own key, as /dev/login would.
    let auth = medichain_local::auth::LocalAuth::load_or_create(&data)?;
    let patients = bookings_wanted / events::BOOKINGS_PER_PATIENT + 1;
    let tokens: Vec<String> = (0..patients)
        .map(|n| {
            auth.sign(&seed::bench_patient_profile(
                n * events::BOOKINGS_PER_PATIENT,
            )?)
        })
        .collect::<anyhow::Result<_>>()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let log = std::fs::File::create(work.join("local-server.log"))?;
    let mut server = tokio::process::Command::new(&server_bin)
        .args(["--addr", &addr.to_string(), "--data-dir"])
        .arg(&data)
        .arg("--site-dir")
        .arg(args.repo.join("static-site"))
        .env("RUST_LOG", "info")
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .context("starting medichain-local")?;
    let token = sign_in(addr, seed::FIXTURE_PATIENT).await?;

    // Slot queries over 12 doctors × 28 days.
    let now = chrono::Utc::now();
    let token_slots = token;
    let slots = load::run(
        LoadPlan {
            addr,
            connections: plan.load_connections,
            duration: plan.load_time,
            max_requests: 2_000_000,
            expect: http::StatusCode::OK,
        },
        Arc::new(move |i| {
            let doctor = bench_doctor_id(1 + (i as usize % doctors));
            let date = (now + chrono::Duration::days(1 + (i as i64 / 12) % 28)).date_naive();
            request(
                http::Method::GET,
                &format!("/api/doctors/{doctor}/slots?date={date}"),
                &token_slots,
                None,
                None,
            )
        }),
    )
    .await?;
    add_load_row(
        table,
        "slot queries (GET …/slots)",
        &slots,
        MIN_SLOT_QUERIES_PER_SECOND,
    );

    // Bookings, each of a different free slot, spread over the doctors.
    let mut starts = Vec::new();
    let per_doctor = bookings_wanted / doctors + 1;
    let grids: Vec<Vec<chrono::DateTime<chrono::Utc>>> = (1..=doctors)
        .map(|n| bench_doctor(n).map(|d| events::free_slots(&d, now, 2, per_doctor)))
        .collect::<Result<_, _>>()?;
    for k in 0..per_doctor {
        for (n, grid) in grids.iter().enumerate() {
            if let Some(start) = grid.get(k) {
                starts.push((bench_doctor_id(n + 1), *start));
            }
        }
    }
    let starts = Arc::new(starts);
    let count = starts.len() as u64;
    let tokens = Arc::new(tokens);
    let run_id = std::process::id();
    let bookings = load::run(
        LoadPlan {
            addr,
            connections: plan.load_connections,
            duration: plan.load_time,
            max_requests: count,
            expect: http::StatusCode::CREATED,
        },
        Arc::new(move |i| {
            let (doctor, start) = &starts[i as usize];
            let body = serde_json::json!({ "doctor_id": doctor, "start": start.to_rfc3339() });
            let token = &tokens[i as usize / events::BOOKINGS_PER_PATIENT];
            request(
                http::Method::POST,
                "/api/appointments",
                token,
                Some(body.to_string()),
                Some(format!("bench-{run_id}-{i}")),
            )
        }),
    )
    .await?;
    add_load_row(
        table,
        "bookings (POST /api/appointments)",
        &bookings,
        MIN_BOOKINGS_PER_SECOND,
    );
    let _ = server.kill().await;
    Ok(())
}

fn add_load_row(table: &mut Table, subject: &str, r: &LoadReport, min_rate: f64) {
    let ok = r.failures == 0;
    table.add(
        "local server load (loopback, embedded store)",
        subject,
        format!(
            "{:.0}/s, p50 {}, p99 {}, {} requests in {:.1} s{}",
            r.throughput(),
            ms(r.p50()),
            ms(r.p99()),
            r.requests,
            r.elapsed.as_secs_f64(),
            if ok {
                String::new()
            } else {
                format!(", {} failed {:?}", r.failures, r.statuses)
            }
        ),
        &format!("≥ {min_rate:.0}/s, p99 < 20 ms"),
        Verdict::from_check(ok && r.throughput() >= min_rate && r.p99() < LOAD_P99),
    );
}

fn request(
    method: http::Method,
    path: &str,
    token: &str,
    body: Option<String>,
    idempotency_key: Option<String>,
) -> http::Request<Full<Bytes>> {
    let mut builder = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1")
        .header("authorization", format!("Bearer {token}"));
    if body.is_some() {
        builder = builder.header("content-type", "application/json");
    }
    if let Some(key) = idempotency_key {
        builder = builder.header("idempotency-key", key);
    }
    builder
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .unwrap_or_default()
}

/// Waits for the server and signs in as a demo user through `/dev/login`.
async fn sign_in(addr: std::net::SocketAddr, user: &str) -> anyhow::Result<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let body = serde_json::json!({ "user_id": user });
    loop {
        match load::post_json(addr, "/dev/login", &body).await {
            Ok((http::StatusCode::OK, answer)) => {
                return answer
                    .get("token")
                    .and_then(|t| t.as_str())
                    .map(str::to_owned)
                    .context("no token in the /dev/login answer");
            }
            Ok((status, answer)) => anyhow::bail!("/dev/login answered {status}: {answer}"),
            Err(e) if std::time::Instant::now() >= deadline => {
                return Err(e.context("medichain-local did not answer within 30 s"));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}
