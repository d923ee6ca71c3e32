//! Command-line parsing. Every `serve` flag has a `HOOKLINE_*` environment twin.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
pub use hookline_core::tuning::{AuthArgs, Tuning};
use tracing_subscriber::EnvFilter;

use crate::{bench, check_receiver, server, token, verify};

#[derive(Parser)]
#[command(name = "hookline", version, about = "Signed webhooks for ISP events, on one machine.")]
struct Cli {
    /// How log lines are written: `text` for people, `json` (one object per line) for a log
    /// pipeline.
    #[arg(long, global = true, env = "HOOKLINE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the management API and the delivery workers.
    Serve(Box<ServeArgs>),
    /// Measure throughput, fan-out and latency against a loopback receiver.
    Bench(bench::BenchArgs),
    /// Print a management token signed with the local key of a data file.
    Token(token::TokenArgs),
    /// Tell whether a captured request is a genuine delivery for a secret, and if not, why.
    Verify(verify::VerifyArgs),
    /// Check that a receiver refuses forged, altered, stale and unsigned requests.
    CheckReceiver(check_receiver::CheckReceiverArgs),
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address the API listens on.
    #[arg(long, env = "HOOKLINE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The SQLite file holding webhooks, events, deliveries and the queue (created if missing).
    #[arg(long, env = "HOOKLINE_DATA", default_value = "./hookline.db")]
    pub data: PathBuf,
    /// Also serve `GET /metrics` (Prometheus) on this address, without a token; on the API's
    /// address it needs an admin token.
    #[arg(long, env = "HOOKLINE_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    #[command(flatten)]
    pub tuning: Tuning,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_env("HOOKLINE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    match cli.log_format {
        LogFormat::Text => tracing_subscriber::fmt().with_env_filter(filter).init(),
        LogFormat::Json => tracing_subscriber::fmt().json().with_env_filter(filter).with_current_span(false).init(),
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("hookline: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve(*args).await,
            Command::Bench(args) => bench::run(args).await,
            Command::Token(args) => token::run(&args),
            Command::Verify(args) => verify::run(&args),
            Command::CheckReceiver(args) => check_receiver::run(&args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("hookline: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = args.tuning.to_config()?;
    let api = bind(args.listen).await?;
    let metrics = match args.metrics_listen {
        Some(address) => Some(bind(address).await?),
        None => None,
    };
    server::run(server::Listeners { api, metrics }, &args.data, config, server::termination()).await
}

async fn bind(address: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(address).await.map_err(|e| anyhow::anyhow!("cannot listen on {address}: {e}"))
}
