//! The composition root: the one place that turns a `Config`, a `Backend` and the deployment's
//! keys into everything a host runs (the services over their adapters, and the management API
//! with its token verifier). The local binary, the Lambda functions and the test suites all build
//! through `assemble`, so an adapter or a setting is wired here and nowhere else.

#[cfg(feature = "sqlite")]
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;

use crate::adapters::cipher::{CipherError, SecretCipher};
use crate::adapters::clock::SystemClock;
use crate::adapters::http_sender::HyperSender;
use crate::adapters::jwks::{JwksError, fetch_jwks, refresh_periodically};
use crate::adapters::jwt::{JwtKeys, TokenVerifier};
use crate::adapters::key_check::check_secret_key;
use crate::api::{self, AppState};
use crate::config::{Config, ConfigError};
use crate::ports::{Resolver, StoreError};
use crate::service::{Hookline, Parts, RecentSuccesses, Stores, Tally};

/// Where a deployment keeps its data: a closed set, chosen by the host.
pub enum Backend {
    /// One SQLite file (local mode); its queue is recovered at start-up, since one process owns
    /// the file.
    #[cfg(feature = "sqlite")]
    Sqlite { path: PathBuf },
    /// One DynamoDB table and an SQS delivery queue with its DLQ.
    #[cfg(feature = "aws")]
    Aws(AwsBackend),
}

#[cfg(feature = "aws")]
pub struct AwsBackend {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub table: String,
    pub queue_url: String,
    pub dlq_url: String,
    /// Who deletes finished messages: `settle`, or the Lambda poller after the batch response.
    pub acknowledgement: crate::adapters::aws::Acknowledgement,
}

/// The keys a deployment runs with; each host reads them its own way (files beside the data
/// file, or the environment).
pub struct Keys {
    /// Seals signing secrets at rest (32 bytes).
    pub secret_key: Vec<u8>,
    /// Verifies management tokens. With a JWKS URL configured, start from an empty set: the
    /// provider's keys are fetched here.
    pub tokens: JwtKeys,
}

/// Everything a host runs.
pub struct Assembled {
    pub hookline: Hookline,
    /// The management and publishing API, built once so its rate limiters see every request.
    pub router: Router,
    /// What the router's handlers share (the services, the token check, the rate limiters),
    /// for a host that adds routes of its own.
    pub state: AppState,
}

#[derive(Debug, thiserror::Error)]
pub enum AssembleError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("the secret key: {0}")]
    SecretKey(#[from] CipherError),
    #[error("the identity provider's keys: {0}")]
    Jwks(#[from] JwksError),
    #[error("building an HTTP client: {0}")]
    HttpClient(#[from] reqwest::Error),
    #[error("building the webhook sender: {0}")]
    Sender(std::io::Error),
    #[error("opening the storage: {0}")]
    Storage(#[from] StoreError),
    #[error("recovering the queue: {0}")]
    Queue(#[from] crate::ports::QueueError),
}

/// How long one fetch of an identity provider's JWKS may take.
const JWKS_FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Builds every adapter once, checks the secret key against the stored data, and wires the
/// services and the API over them.
pub async fn assemble(config: &Config, backend: Backend, keys: Keys, resolver: Arc<dyn Resolver>) -> Result<Assembled, AssembleError> {
    config.validate()?;
    let cipher = Arc::new(SecretCipher::new(&keys.secret_key)?);
    let tokens = Arc::new(TokenVerifier::new(config.auth.jwt_settings(keys.tokens)));
    follow_jwks(config, &tokens).await?;
    let hookline = Hookline::new(Parts {
        stores: backend.open(config, cipher).await?,
        sender: Arc::new(HyperSender::new(&config.sender(), resolver.clone()).map_err(AssembleError::Sender)?),
        resolver,
        clock: Arc::new(SystemClock),
        settings: config.settings(),
        tally: Tally::default(),
        recent_successes: RecentSuccesses::default(),
    });
    let state = AppState::new(hookline.clone(), tokens.clone(), &config.rate_limits);
    let router = api::router(state.clone(), config.api());
    Ok(Assembled { hookline, router, state })
}

/// With a JWKS URL configured: fetches the provider's keys now (no start without them) and
/// again periodically, so rotated keys are picked up.
async fn follow_jwks(config: &Config, tokens: &Arc<TokenVerifier>) -> Result<(), AssembleError> {
    let Some(url) = &config.auth.jwks_url else { return Ok(()) };
    let client = reqwest::Client::builder().timeout(JWKS_FETCH_TIMEOUT).build()?;
    tokens.replace_keys(JwtKeys::Jwks(fetch_jwks(&client, url).await?));
    tokio::spawn(refresh_periodically(tokens.clone(), client, url.clone(), config.auth.jwks_refresh));
    Ok(())
}

impl Backend {
    /// Opens the storage, refuses a secret key other than the one its secrets were sealed
    /// with, and builds the adapters over it.
    pub async fn open(self, config: &Config, cipher: Arc<SecretCipher>) -> Result<Stores, AssembleError> {
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite { path } => open_sqlite(&path, config, cipher).await,
            #[cfg(feature = "aws")]
            Self::Aws(aws) => open_aws(aws, config, cipher).await,
        }
    }
}

#[cfg(feature = "sqlite")]
async fn open_sqlite(path: &std::path::Path, config: &Config, cipher: Arc<SecretCipher>) -> Result<Stores, AssembleError> {
    use crate::adapters::sqlite::{
        Db, ROOM, SqliteApiKeyStore, SqliteAuditLog, SqliteDeliveryQueue, SqliteDeliveryStore, SqliteEventStore, SqliteMetricsStore,
        SqliteReplayStore, SqliteRetention, SqliteSubscriptionStore,
    };
    let db = Arc::new(Db::open(path)?);
    check_secret_key(&*db, &cipher).await?;
    let (queue, recovered) = SqliteDeliveryQueue::open(&db, config.visibility_timeout, ROOM).await?;
    if recovered > 0 {
        tracing::info!(recovered, "deliveries interrupted by the previous run will be attempted again");
    }
    Ok(Stores {
        subscriptions: Arc::new(SqliteSubscriptionStore::new(db.clone(), cipher)),
        api_keys: Arc::new(SqliteApiKeyStore::new(db.clone())),
        audit: Arc::new(SqliteAuditLog::new(db.clone())),
        events: Arc::new(SqliteEventStore::new(db.clone())),
        deliveries: Arc::new(SqliteDeliveryStore::new(db.clone(), queue.index())),
        metrics: Arc::new(SqliteMetricsStore::new(db.clone())),
        retention: Arc::new(SqliteRetention::new(db.clone())),
        queue: Arc::new(queue),
        rate_gate: Arc::new(crate::adapters::rate_gate::LocalRateGate::default()),
        replays: Arc::new(SqliteReplayStore::new(db.clone())),
    })
}

#[cfg(feature = "aws")]
async fn open_aws(aws: AwsBackend, config: &Config, cipher: Arc<SecretCipher>) -> Result<Stores, AssembleError> {
    use crate::adapters::aws::{
        Cursors, Dynamo, DynamoDbApiKeyStore, DynamoDbAuditLog, DynamoDbDeliveryStore, DynamoDbEventStore, DynamoDbMetricsStore,
        DynamoDbRateGate, DynamoDbReplayStore, DynamoDbRetention, DynamoDbSubscriptionStore, SqsDeliveryQueue,
    };
    let db = Dynamo::new(aws.dynamodb, &aws.table);
    check_secret_key(&db, &cipher).await?;
    let retention = config.retention.clone();
    Ok(Stores {
        subscriptions: Arc::new(DynamoDbSubscriptionStore::new(db.clone(), cipher.clone())),
        api_keys: Arc::new(DynamoDbApiKeyStore::new(db.clone())),
        audit: Arc::new(DynamoDbAuditLog::new(db.clone(), Cursors::new(cipher.clone()))),
        events: Arc::new(DynamoDbEventStore::new(db.clone(), retention.clone())),
        deliveries: Arc::new(DynamoDbDeliveryStore::new(db.clone(), cipher, retention)),
        metrics: Arc::new(DynamoDbMetricsStore::new(db.clone())),
        retention: Arc::new(DynamoDbRetention::new(db.clone())),
        queue: Arc::new(SqsDeliveryQueue::new(aws.sqs, &aws.queue_url, &aws.dlq_url, aws.acknowledgement)),
        rate_gate: Arc::new(DynamoDbRateGate::new(db.clone())),
        replays: Arc::new(DynamoDbReplayStore::new(db)),
    })
}
