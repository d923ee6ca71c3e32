//! The services wired over DynamoDB and SQS, once per cold start and shared by every
//! invocation of the instance.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use axum::Router;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hookline_core::adapters::aws::{
    Cursors, Dynamo, DynamoDbApiKeyStore, DynamoDbAttemptLog, DynamoDbAuditLog, DynamoDbEventStore, DynamoDbSubscriptionStore,
    SqsDeliveryQueue, check_secret_key,
};
use hookline_core::adapters::cipher::SecretCipher;
use hookline_core::adapters::clock::SystemClock;
use hookline_core::adapters::http_sender::ReqwestSender;
use hookline_core::adapters::jwks::{fetch_jwks, refresh_periodically};
use hookline_core::adapters::jwt::{JwtKeys, JwtSettings, TokenVerifier};
use hookline_core::api::{self, AppState};
use hookline_core::config::Config;
use hookline_core::ports::Resolver;
use hookline_core::service::Hookline;

use crate::config::FunctionArgs;

/// One function instance's wiring.
pub struct Function {
    pub hookline: Hookline,
    pub queue: Arc<SqsDeliveryQueue>,
    pub tokens: Arc<TokenVerifier>,
    pub config: Config,
    /// Built once, so its rate limiters see every request of the instance.
    router: Router,
}

impl Function {
    /// The core's management API over this wiring.
    pub fn router(&self) -> Router {
        self.router.clone()
    }
}

/// Builds every client and adapter; fails with the reason when a setting is missing or wrong.
pub async fn wire(args: &FunctionArgs, sdk: &aws_config::SdkConfig, resolver: Arc<dyn Resolver>) -> anyhow::Result<Function> {
    let clients = (aws_sdk_dynamodb::Client::new(sdk), aws_sdk_sqs::Client::new(sdk));
    wire_with_clients(args, clients, resolver).await
}

/// `wire` with clients built by the caller (the benchmark counts their requests).
pub async fn wire_with_clients(
    args: &FunctionArgs,
    (dynamodb, sqs): (aws_sdk_dynamodb::Client, aws_sdk_sqs::Client),
    resolver: Arc<dyn Resolver>,
) -> anyhow::Result<Function> {
    let config = args.tuning.to_config()?;
    let Some(encoded) = &config.secret_key else { bail!("HOOKLINE_SECRET_KEY is not set") };
    let key = STANDARD.decode(encoded.expose().trim()).context("HOOKLINE_SECRET_KEY is not base64")?;
    let cipher = Arc::new(SecretCipher::new(&key).context("HOOKLINE_SECRET_KEY must hold exactly 32 bytes")?);
    let tokens = Arc::new(TokenVerifier::new(jwt_settings(args, &config)?));
    if let Some(url) = &config.auth.jwks_url {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
        tokens.replace_keys(JwtKeys::Jwks(fetch_jwks(&client, url).await?));
        tokio::spawn(refresh_periodically(tokens.clone(), client, url.clone(), config.auth.jwks_refresh));
    }
    let db = Dynamo::new(dynamodb, &args.table);
    check_secret_key(&db, &cipher).await.with_context(|| format!("checking the secret key against table {}", args.table))?;
    let queue = Arc::new(SqsDeliveryQueue::new(sqs, &args.queue_url, &args.dlq_url));
    let retention = chrono::Duration::from_std(config.retention).unwrap_or(chrono::Duration::days(30));
    let sender = ReqwestSender::new(&config.sender(), resolver.clone()).context("building the HTTP client")?;
    let hookline = Hookline {
        subscriptions: Arc::new(DynamoDbSubscriptionStore::new(db.clone(), cipher.clone())),
        api_keys: Arc::new(DynamoDbApiKeyStore::new(db.clone())),
        audit: Arc::new(DynamoDbAuditLog::new(db.clone(), Cursors::new(cipher.clone()))),
        events: Arc::new(DynamoDbEventStore::new(db.clone(), retention)),
        attempts: Arc::new(DynamoDbAttemptLog::new(db, cipher, retention)),
        queue: queue.clone(),
        sender: Arc::new(sender),
        resolver,
        clock: Arc::new(SystemClock),
        settings: config.settings(),
    };
    let router = api::router(AppState::new(hookline.clone(), tokens.clone(), &config.rate_limits), config.api());
    Ok(Function { hookline, queue, tokens, config, router })
}

/// Tokens are checked against the identity provider's JWKS (fetched right after), or an HS256 key.
fn jwt_settings(args: &FunctionArgs, config: &Config) -> anyhow::Result<JwtSettings> {
    let auth = &config.auth;
    if auth.jwks_file.is_some() {
        bail!("HOOKLINE_JWKS_FILE is for the local binary; give the functions HOOKLINE_JWKS_URL");
    }
    let keys = match (&auth.jwks_url, &args.auth_key) {
        (Some(_), _) => JwtKeys::Jwks(Default::default()),
        (None, Some(encoded)) => {
            let key = STANDARD.decode(encoded.trim()).context("HOOKLINE_AUTH_KEY is not base64")?;
            if key.len() < 32 {
                bail!("HOOKLINE_AUTH_KEY must hold at least 32 bytes");
            }
            JwtKeys::Hs256(key)
        }
        (None, None) => bail!("set HOOKLINE_JWKS_URL (your identity provider's keys) or HOOKLINE_AUTH_KEY (an HS256 key)"),
    };
    Ok(JwtSettings::new(auth, keys))
}
