//! `medichain-local`: runs MediChain on this machine with no AWS account.
//!
//! ```text
//! medichain-local [--addr HOST:PORT] [--data-dir DIR] [--site-dir DIR] [--backend embedded|aws]
//! ```
//!
//! `--backend aws` keeps the data in the DynamoDB table `TABLE_NAME` (default `medichain-local`),
//! reached with the SDK's usual settings (`AWS_ENDPOINT_URL`, `AWS_REGION`, credentials).

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use medichain::config::AppConfig;
use medichain_local::{start, Backend, Options};
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
            "--backend" => {
                options.backend = match value()?.as_str() {
                    "embedded" => Backend::Embedded,
                    "aws" => Backend::Aws {
                        table: std::env::var("TABLE_NAME")
                            .unwrap_or_else(|_| "medichain-local".to_owned()),
                    },
                    other => bail!("--backend must be embedded or aws, not {other:?}"),
                }
            }
            "-h" | "--help" => {
                println!("usage: medichain-local [--addr HOST:PORT] [--data-dir DIR] [--site-dir DIR] [--backend embedded|aws]");
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
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
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
