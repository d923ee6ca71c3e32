//! The local server: the management API and the delivery workers in one process,
//! over one SQLite file. `run` serves until `shutdown` resolves, then stops taking
//! requests, lets in-flight deliveries finish and returns.

use std::future::Future;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hookline_core::adapters::resolver::SystemResolver;
use hookline_core::backend::{Assembled, Backend, Keys, assemble};
use hookline_core::config::Config;
use hookline_core::domain::retention::RetentionPolicy;
use hookline_core::ports::Resolver;
use hookline_core::service::Hookline;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::worker::{WorkerConfig, WorkerPool};
use crate::{key_files, prometheus};

/// Everything the server runs, built over the data file through the composition root; then
/// fan-outs a previous run left unfinished are finished.
pub async fn wire(data: &Path, config: &Config, resolver: Arc<dyn Resolver>) -> anyhow::Result<Assembled> {
    let keys = Keys { secret_key: key_files::secret_key(config, data)?, tokens: key_files::token_keys(&config.auth, data, true)? };
    let backend = Backend::Sqlite { path: data.to_owned() };
    let assembled = assemble(config, backend, keys, resolver).await.with_context(|| format!("opening {}", data.display()))?;
    let resumed = assembled.hookline.resume_fan_out().await.context("finishing fan-outs left by a previous run")?;
    if resumed > 0 {
        tracing::info!(resumed, "events stored by the previous run were fanned out");
    }
    Ok(assembled)
}

/// Where the server listens: the API (with `/metrics` for an admin token), and optionally an
/// address serving only `/metrics`, without a token.
pub struct Listeners {
    pub api: TcpListener,
    pub metrics: Option<TcpListener>,
}

impl From<TcpListener> for Listeners {
    fn from(api: TcpListener) -> Self {
        Self { api, metrics: None }
    }
}

/// Serves the API and delivers until `shutdown` resolves.
pub async fn run(
    listeners: impl Into<Listeners>,
    data: &Path,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    run_with(listeners, data, config, Arc::new(SystemResolver), shutdown).await
}

/// `run` with a chosen resolver (tests use one whose answers they control).
pub async fn run_with(
    listeners: impl Into<Listeners>,
    data: &Path,
    config: Config,
    resolver: Arc<dyn Resolver>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let Listeners { api: listener, metrics } = listeners.into();
    let wiring = wire(data, &config, resolver).await?;
    announce(&listener, data)?;
    let scraping = metrics.map(|metrics| tokio::spawn(serve_metrics(metrics, wiring.hookline.clone())));
    let (stop_workers, stopped) = watch::channel(false);
    let workers = tokio::spawn(WorkerPool::new(wiring.hookline.clone(), WorkerConfig::of(&config)).run(stopped));
    let purger = tokio::spawn(purge_periodically(wiring.hookline.clone(), config.retention.clone(), config.purge_interval));
    let health = tokio::spawn(maintain_periodically(wiring.hookline, config.maintenance_interval));
    let app = wiring.router.merge(prometheus::authenticated(wiring.state)).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await.context("serving the API")?;
    tracing::info!("no longer accepting requests; draining deliveries in flight");
    let _ = stop_workers.send(true);
    workers.await.context("delivery workers")?;
    purger.abort();
    health.abort();
    if let Some(scraping) = scraping {
        scraping.abort();
    }
    Ok(())
}

/// Serves `/metrics` alone, without a token, on its own address.
async fn serve_metrics(listener: TcpListener, hookline: Hookline) {
    if let Ok(address) = listener.local_addr() {
        tracing::info!(%address, "metrics served at /metrics");
    }
    if let Err(error) = axum::serve(listener, prometheus::open(hookline)).await {
        tracing::error!(%error, "the metrics listener stopped");
    }
}

/// Runs the endpoint-health pass (probes, disabling, releasing held deliveries) every `interval`.
async fn maintain_periodically(hookline: Hookline, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(error) = hookline.maintain().await {
            tracing::error!(%error, "the endpoint-health pass failed; it will be tried again");
        }
    }
}

/// Applies the retention period every `interval`, for as long as the server runs.
async fn purge_periodically(hookline: Hookline, retention: RetentionPolicy, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    loop {
        ticker.tick().await;
        if let Err(error) = hookline.purge_expired(&retention).await {
            tracing::error!(%error, "purging expired records failed; it will be tried again");
        }
    }
}

/// Says where the server listens, once it is ready (the data file and its key exist).
/// Standard output may be closed by whoever started the server: that must not stop it.
fn announce(listener: &TcpListener, data: &Path) -> anyhow::Result<()> {
    let address = listener.local_addr()?;
    tracing::info!(%address, data = %data.display(), "hookline is serving");
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "hookline listening on http://{address} (data: {})", data.display());
    let _ = writeln!(
        out,
        "get a management token: hookline token --data {} --role webhooks:admin --sub you; then create a publisher key: POST /api/v1/api-keys",
        data.display()
    );
    let _ = out.flush();
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn termination() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
