//! Command-line parsing. Every `serve` flag has a `HOOKLINE_*` environment twin.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use hookline_core::config::Config;
use hookline_core::domain::net_policy::NetPolicy;
use hookline_core::domain::webhook::RetryPolicyRequest;
use ipnet::IpNet;
use tracing_subscriber::EnvFilter;

use crate::{bench, server};

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

/// Settings shared by `serve` and `bench`.
#[derive(Args, Debug, Clone)]
pub struct Tuning {
    /// Accept plain http:// webhook URLs (development only).
    #[arg(long, env = "HOOKLINE_ALLOW_HTTP")]
    pub allow_http: bool,
    /// A network (CIDR) that may be delivered to although private; repeatable, e.g. 127.0.0.0/8.
    #[arg(long = "allow-net", env = "HOOKLINE_ALLOW_NET", value_delimiter = ',')]
    pub allow_net: Vec<IpNet>,
    /// Deliveries in flight at once.
    #[arg(long, env = "HOOKLINE_WORKERS", default_value_t = 64)]
    pub workers: usize,
    /// Deliveries in flight at once to one webhook.
    #[arg(long, env = "HOOKLINE_PER_WEBHOOK_CONCURRENCY", default_value_t = 16)]
    pub per_webhook_concurrency: usize,
    /// Seconds to wait for a connection.
    #[arg(long, env = "HOOKLINE_CONNECT_TIMEOUT", default_value_t = 5.0)]
    pub connect_timeout: f64,
    /// Seconds one attempt may take in all.
    #[arg(long, env = "HOOKLINE_REQUEST_TIMEOUT", default_value_t = 15.0)]
    pub request_timeout: f64,
    /// Seconds a claimed delivery stays invisible before it is attempted again.
    #[arg(long, env = "HOOKLINE_VISIBILITY_TIMEOUT", default_value_t = 60.0)]
    pub visibility_timeout: f64,
    /// The default retry policy's preset: `default` (3 attempts) or `svix` (8 attempts over ~27.5 h).
    #[arg(long, env = "HOOKLINE_RETRY_PRESET")]
    pub retry_preset: Option<String>,
    /// Attempts per delivery, the first included.
    #[arg(long, env = "HOOKLINE_MAX_ATTEMPTS")]
    pub max_attempts: Option<u32>,
    /// Seconds before the first retry; later ones multiply by the factor.
    #[arg(long, env = "HOOKLINE_RETRY_BASE_DELAY")]
    pub retry_base_delay: Option<f64>,
    #[arg(long, env = "HOOKLINE_RETRY_FACTOR")]
    pub retry_factor: Option<f64>,
    /// The longest wait between two attempts, in seconds.
    #[arg(long, env = "HOOKLINE_RETRY_MAX_DELAY")]
    pub retry_max_delay: Option<f64>,
    /// An explicit schedule instead: seconds before each retry, comma-separated (e.g. 5,300,1800).
    #[arg(long, env = "HOOKLINE_RETRY_SCHEDULE", value_delimiter = ',')]
    pub retry_schedule: Option<Vec<f64>>,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "HOOKLINE_MAX_REQUEST_BYTES", default_value_t = 1024 * 1024)]
    pub max_request_bytes: usize,
    /// Largest event envelope accepted, in bytes.
    #[arg(long, env = "HOOKLINE_MAX_EVENT_BYTES", default_value_t = 256 * 1024)]
    pub max_event_bytes: usize,
}

impl Tuning {
    pub fn to_config(&self) -> anyhow::Result<Config> {
        let seconds = |value: f64, name: &str| {
            Duration::try_from_secs_f64(value).map_err(|_| anyhow::anyhow!("--{name} must be a non-negative number of seconds"))
        };
        let retry = RetryPolicyRequest {
            preset: self.retry_preset.clone(),
            max_attempts: self.max_attempts,
            base_delay_secs: self.retry_base_delay,
            factor: self.retry_factor,
            max_delay_secs: self.retry_max_delay,
            schedule_secs: self.retry_schedule.clone(),
            jitter: None,
        };
        let config = Config {
            allow_http: self.allow_http,
            net: NetPolicy { allow: self.allow_net.clone() },
            retry_policy: retry.parse().map_err(|e| anyhow::anyhow!("retry policy: {e}"))?,
            connect_timeout: seconds(self.connect_timeout, "connect-timeout")?,
            request_timeout: seconds(self.request_timeout, "request-timeout")?,
            max_request_bytes: self.max_request_bytes,
            max_event_bytes: self.max_event_bytes,
            workers: self.workers,
            per_webhook_concurrency: self.per_webhook_concurrency,
            visibility_timeout: seconds(self.visibility_timeout, "visibility-timeout")?,
        };
        config.validate()?;
        Ok(config)
    }
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
    let address = listener.local_addr()?;
    tracing::info!(%address, data = %args.data.display(), "hookline is serving");
    println!("hookline listening on http://{address} (data: {})", args.data.display());
    server::run(listener, &args.data, config, server::termination()).await
}
