//! The local server: the management API and the delivery workers in one process,
//! over one SQLite file. `run` serves until `shutdown` resolves, then stops taking
//! requests, lets in-flight deliveries finish and returns.

use std::future::Future;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hookline_core::adapters::cipher::SecretCipher;
use hookline_core::adapters::clock::SystemClock;
use hookline_core::adapters::http_sender::ReqwestSender;
use hookline_core::adapters::jwks::{fetch_jwks, refresh_periodically};
use hookline_core::adapters::jwt::{JwtKeys, TokenVerifier};
use hookline_core::adapters::resolver::SystemResolver;
use hookline_core::adapters::sqlite::{
    Db, SqliteApiKeyStore, SqliteAttemptLog, SqliteAuditLog, SqliteDeliveryQueue, SqliteEventStore, SqliteSubscriptionStore,
    check_secret_key,
};
use hookline_core::api::{self, AppState};
use hookline_core::config::Config;
use hookline_core::ports::Resolver;
use hookline_core::service::Hookline;
use hookline_core::worker::WorkerPool;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::key_files;

/// The services wired over SQLite, plus the queue the workers drain.
pub struct Wiring {
    pub hookline: Hookline,
    pub queue: Arc<SqliteDeliveryQueue>,
    pub tokens: Arc<TokenVerifier>,
}

/// Opens the data file and builds every adapter once.
pub async fn wire(data: &Path, config: &Config, resolver: Arc<dyn Resolver>) -> anyhow::Result<Wiring> {
    config.validate()?;
    let tokens = Arc::new(TokenVerifier::new(key_files::jwt_settings(&config.auth, data, true)?));
    if let Some(url) = &config.auth.jwks_url {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
        tokens.replace_keys(JwtKeys::Jwks(fetch_jwks(&client, url).await?));
        tokio::spawn(refresh_periodically(tokens.clone(), client, url.clone(), config.auth.jwks_refresh));
    }
    let db = Arc::new(Db::open(data).with_context(|| format!("opening {}", data.display()))?);
    let cipher = Arc::new(SecretCipher::new(&key_files::secret_key(config, data)?)?);
    check_secret_key(&db, &cipher).await.with_context(|| format!("opening {}", data.display()))?;
    let queue = Arc::new(SqliteDeliveryQueue::new(db.clone(), config.visibility_timeout));
    let recovered = queue.recover().await.context("recovering deliveries left by a previous run")?;
    if recovered > 0 {
        tracing::info!(recovered, "deliveries interrupted by the previous run will be attempted again");
    }
    let sender = ReqwestSender::new(&config.sender(), resolver.clone()).context("building the HTTP client")?;
    let hookline = Hookline {
        subscriptions: Arc::new(SqliteSubscriptionStore::new(db.clone(), cipher)),
        api_keys: Arc::new(SqliteApiKeyStore::new(db.clone())),
        audit: Arc::new(SqliteAuditLog::new(db.clone())),
        events: Arc::new(SqliteEventStore::new(db.clone())),
        attempts: Arc::new(SqliteAttemptLog::new(db)),
        queue: queue.clone(),
        sender: Arc::new(sender),
        resolver,
        clock: Arc::new(SystemClock),
        settings: config.settings(),
    };
    let resumed = hookline.resume_fan_out().await.context("finishing fan-outs left by a previous run")?;
    if resumed > 0 {
        tracing::info!(resumed, "events stored by the previous run were fanned out");
    }
    Ok(Wiring { hookline, queue, tokens })
}

/// Serves the API on `listener` and delivers until `shutdown` resolves.
pub async fn run(
    listener: TcpListener,
    data: &Path,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    run_with(listener, data, config, Arc::new(SystemResolver), shutdown).await
}

/// `run` with a chosen resolver (tests use one whose answers they control).
pub async fn run_with(
    listener: TcpListener,
    data: &Path,
    config: Config,
    resolver: Arc<dyn Resolver>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let wiring = wire(data, &config, resolver).await?;
    announce(&listener, data)?;
    let (stop_workers, stopped) = watch::channel(false);
    let workers = tokio::spawn(WorkerPool::new(wiring.hookline.clone(), wiring.queue, config.workers()).run(stopped));
    let purger = tokio::spawn(purge_periodically(wiring.hookline.clone(), config.retention, config.purge_interval));
    let app = api::router(AppState::new(wiring.hookline, wiring.tokens, &config.rate_limits), config.api());
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await.context("serving the API")?;
    tracing::info!("no longer accepting requests; draining deliveries in flight");
    let _ = stop_workers.send(true);
    workers.await.context("delivery workers")?;
    purger.abort();
    Ok(())
}

/// Applies the retention period every `interval`, for as long as the server runs.
async fn purge_periodically(hookline: Hookline, retention: Duration, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    loop {
        ticker.tick().await;
        if let Err(error) = hookline.purge_expired(retention).await {
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
