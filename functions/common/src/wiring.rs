//! The services wired over DynamoDB and SQS through the core's composition root, once per cold
//! start and shared by every invocation of the instance.

use std::sync::Arc;

use anyhow::{Context, bail};
use axum::Router;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hookline_core::adapters::aws::Acknowledgement;
use hookline_core::adapters::jwt::JwtKeys;
use hookline_core::backend::{AwsBackend, Backend, Keys, assemble};
use hookline_core::config::Config;
use hookline_core::ports::Resolver;
use hookline_core::service::Hookline;

use crate::config::FunctionArgs;
use crate::emf::MetricsLog;

/// One function instance's wiring.
pub struct Function {
    pub hookline: Hookline,
    /// Where the invocations' EMF documents go (standard output, or kept by tests).
    pub metrics_log: MetricsLog,
    /// The deployed function's name (`AWS_LAMBDA_FUNCTION_NAME`), or `hookline` outside Lambda.
    pub name: String,
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
    let keys = Keys { secret_key: secret_key(&config)?, tokens: token_keys(args, &config)? };
    let backend = Backend::Aws(AwsBackend {
        dynamodb,
        sqs,
        table: args.table.clone(),
        queue_url: args.queue_url.clone(),
        dlq_url: args.dlq_url.clone(),
        // The Lambda poller deletes what the `deliver` batch response does not name as failed.
        acknowledgement: Acknowledgement::BatchResponse,
    });
    let assembled = assemble(&config, backend, keys, resolver).await.with_context(|| format!("wiring over table {}", args.table))?;
    let name = args.function_name.clone().unwrap_or_else(|| "hookline".to_owned());
    Ok(Function { hookline: assembled.hookline, metrics_log: MetricsLog::default(), name, router: assembled.router })
}

/// `HOOKLINE_SECRET_KEY`: base64 of 32 bytes.
fn secret_key(config: &Config) -> anyhow::Result<Vec<u8>> {
    let Some(encoded) = &config.secret_key else { bail!("HOOKLINE_SECRET_KEY is not set") };
    STANDARD.decode(encoded.expose().trim()).context("HOOKLINE_SECRET_KEY is not base64")
}

/// Tokens are checked against the identity provider's JWKS (fetched while assembling), or an HS256 key.
fn token_keys(args: &FunctionArgs, config: &Config) -> anyhow::Result<JwtKeys> {
    let auth = &config.auth;
    if auth.jwks_file.is_some() {
        bail!("HOOKLINE_JWKS_FILE is for the local binary; give the functions HOOKLINE_JWKS_URL");
    }
    match (&auth.jwks_url, &args.auth_key) {
        (Some(_), _) => Ok(JwtKeys::Jwks(Default::default())),
        (None, Some(encoded)) => {
            let key = STANDARD.decode(encoded.trim()).context("HOOKLINE_AUTH_KEY is not base64")?;
            if key.len() < 32 {
                bail!("HOOKLINE_AUTH_KEY must hold at least 32 bytes");
            }
            Ok(JwtKeys::Hs256(key))
        }
        (None, None) => bail!("set HOOKLINE_JWKS_URL (your identity provider's keys) or HOOKLINE_AUTH_KEY (an HS256 key)"),
    }
}
