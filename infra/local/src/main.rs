//! `medichain-local`: runs MediChain on this machine with no AWS account.
//!
//! ```text
//! medichain-local [--addr HOST:PORT] [--data-dir DIR] [--site-dir DIR]
//! ```

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use medichain::config::AppConfig;
use medichain_local::{start, Options};
use tracing_subscriber::EnvFilter;

fn parse_args(mut args: impl Iterator<Item = String>) -> anyhow::Result<Options> {
    let mut options = Options::defaults();
    options.config = AppConfig::from_env()?;
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--addr" => options.addr = value()?.parse().context("--addr must be HOST:PORT")?,
            "--data-dir" => options.data_dir = PathBuf::from(value()?),
            "--site-dir" => options.site_dir = PathBuf::from(value()?),
            "-h" | "--help" => {
                println!("usage: medichain-local [--addr HOST:PORT] [--data-dir DIR] [--site-dir DIR]");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    let options = parse_args(std::env::args().skip(1))?;
    let server = start(options.clone()).await?;
    tracing::info!(
        "MediChain is running at http://{} (data in {})",
        server.addr,
        options.data_dir.display()
    );
    tokio::select! {
        result = server.task => { result??; }
        _ = tokio::signal::ctrl_c() => { tracing::info!("stopping"); }
    }
    Ok(())
}
