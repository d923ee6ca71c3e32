//! Command-line parsing. Every `serve` flag has a `HOOKLINE_*` environment twin.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
pub use hookline_core::tuning::{AuthArgs, Tuning};
use tracing_subscriber::EnvFilter;

use crate::{bench, server, token};

#[derive(Parser)]
#[command(name = "hookline", version, about = "Signed webhooks for ISP events, on one machine.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the management API and the delivery workers.
    Serve(Box<ServeArgs>),
    /// Measure throughput, fan-out and latency against a loopback receiver.
    Bench(bench::BenchArgs),
    /// Print a management token signed with the local key of a data file.
    Token(token::TokenArgs),
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address the API listens on.
    #[arg(long, env = "HOOKLINE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The SQLite file holding webhooks, events, deliveries and the queue (created if missing).
    #[arg(long, env = "HOOKLINE_DATA", default_value = "./hookline.db")]
    pub data: PathBuf,
    #[command(flatten)]
    pub tuning: Tuning,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt().with_env_filter(EnvFilter::try_from_env("HOOKLINE_LOG").unwrap_or_else(|_| EnvFilter::new("info"))).init();
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
    let listener =
        tokio::net::TcpListener::bind(args.listen).await.map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.listen))?;
    server::run(listener, &args.data, config, server::termination()).await
}
