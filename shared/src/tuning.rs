//! The deployment settings as command-line flags, each with a `HOOKLINE_*` environment twin:
//! shared by the local binary (`serve`, `bench`, `token`) and the Lambda functions, which read
//! the same variables.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use ipnet::IpNet;

use crate::api::RateLimits;
use crate::config::{AuthConfig, Config, Redacted};
use crate::domain::health::HealthPolicy;
use crate::domain::net_policy::NetPolicy;
use crate::domain::rate_limit::Rate;
use crate::domain::retention::{RetentionPolicy, days_to_duration};
use crate::domain::webhook::RetryPolicyRequest;

/// How management tokens are checked (shared by `serve` and `token`).
#[derive(Args, Debug, Clone)]
pub struct AuthArgs {
    /// Required `iss` of management tokens.
    #[arg(long, env = "HOOKLINE_JWT_ISSUER", default_value = "hookline")]
    pub jwt_issuer: String,
    /// Required `aud` of management tokens.
    #[arg(long, env = "HOOKLINE_JWT_AUDIENCE", default_value = "hookline")]
    pub jwt_audience: String,
    /// The claim listing roles (`scope` is read as well).
    #[arg(long, env = "HOOKLINE_JWT_ROLES_CLAIM", default_value = "roles")]
    pub jwt_roles_claim: String,
    /// Verify RS256/ES256 tokens with this JWKS file instead of the local HS256 key.
    #[arg(long, env = "HOOKLINE_JWKS_FILE")]
    pub jwks_file: Option<PathBuf>,
    /// Verify RS256/ES256 tokens with the JWKS at this URL (fetched at start-up and every 10 minutes).
    #[arg(long, env = "HOOKLINE_JWKS_URL")]
    pub jwks_url: Option<String>,
    /// The local HS256 key file (default: the data file's path plus `.auth-key`, created on first start).
    #[arg(long, env = "HOOKLINE_AUTH_KEY_FILE")]
    pub auth_key_file: Option<PathBuf>,
}

impl AuthArgs {
    pub fn to_config(&self) -> AuthConfig {
        AuthConfig {
            issuer: self.jwt_issuer.clone(),
            audience: self.jwt_audience.clone(),
            roles_claim: self.jwt_roles_claim.clone(),
            jwks_file: self.jwks_file.clone(),
            jwks_url: self.jwks_url.clone(),
            key_file: self.auth_key_file.clone(),
            ..AuthConfig::default()
        }
    }
}

/// Settings shared by every host: the local `serve` and `bench`, and the Lambda functions.
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
    /// Local mode: the most delivery tasks queued (due, waiting for a retry, or in flight)
    /// before publishing answers 503 with `Retry-After`; 0 for no limit.
    #[arg(long, env = "HOOKLINE_MAX_BACKLOG", default_value_t = crate::config::DEFAULT_MAX_BACKLOG)]
    pub max_backlog: u64,
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
    /// Management requests per second per token subject.
    #[arg(long, env = "HOOKLINE_MANAGEMENT_RATE", default_value_t = 50.0)]
    pub management_rate: f64,
    #[arg(long, env = "HOOKLINE_MANAGEMENT_BURST", default_value_t = 100.0)]
    pub management_burst: f64,
    /// Publish requests per second per API key.
    #[arg(long, env = "HOOKLINE_PUBLISH_RATE", default_value_t = 10_000.0)]
    pub publish_rate: f64,
    #[arg(long, env = "HOOKLINE_PUBLISH_BURST", default_value_t = 20_000.0)]
    pub publish_burst: f64,
    /// Days events and delivery records are kept (open deliveries are kept until they close).
    #[arg(long, env = "HOOKLINE_RETENTION_DAYS", default_value_t = 30.0)]
    pub retention_days: f64,
    /// Days for some event types instead, as PATTERN=DAYS (repeatable, e.g. auth.*=7,invoice.*=365).
    #[arg(long = "retention", env = "HOOKLINE_RETENTION", value_delimiter = ',')]
    pub retention_by_type: Vec<String>,
    /// Days a dead delivery is kept for review unless acknowledged or replayed (the hard limit).
    #[arg(long, env = "HOOKLINE_DEAD_RETENTION_DAYS", default_value_t = 90.0)]
    pub dead_retention_days: f64,
    /// A webhook fails (its deliveries held, probes sent) after this many consecutive failed
    /// attempts (0: never)…
    #[arg(long, env = "HOOKLINE_FAILING_AFTER", default_value_t = 10)]
    pub failing_after: u32,
    /// …the first of which is at least this many seconds old.
    #[arg(long, env = "HOOKLINE_FAILING_MIN_SECS", default_value_t = 300.0)]
    pub failing_min_secs: f64,
    /// Seconds before the first probe of a failing webhook; doubled after each failed probe, up to an hour.
    #[arg(long, env = "HOOKLINE_PROBE_INTERVAL", default_value_t = 60.0)]
    pub probe_interval: f64,
    /// Seconds a webhook may be failing before it is disabled and probes stop.
    #[arg(long, env = "HOOKLINE_DISABLE_AFTER_SECS", default_value_t = 3.0 * 86_400.0)]
    pub disable_after_secs: f64,
    /// Held deliveries released per second when a webhook recovers or is enabled.
    #[arg(long, env = "HOOKLINE_RECOVERY_RATE", default_value_t = 10.0)]
    pub recovery_rate: f64,
    /// Seconds one maintenance pass may go on with bulk replays and the dead-letter sweep
    /// (keep it under the maintain function's timeout).
    #[arg(long, env = "HOOKLINE_MAINTENANCE_BUDGET_SECS", default_value_t = 40.0)]
    pub maintenance_budget_secs: f64,
    /// The key sealing signing secrets at rest, base64 of 32 bytes (prefer the environment).
    #[arg(long, env = "HOOKLINE_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// The file holding that key (default: the data file's path plus `.secret-key`, created on first start).
    #[arg(long, env = "HOOKLINE_SECRET_KEY_FILE")]
    pub secret_key_file: Option<PathBuf>,
    #[command(flatten)]
    pub auth: AuthArgs,
}

impl Tuning {
    fn retention_policy(&self) -> anyhow::Result<RetentionPolicy> {
        let days = |value: f64, name: &str| {
            if value.is_finite() && value > 0.0 && value <= 3650.0 {
                Ok(days_to_duration(value))
            } else {
                Err(anyhow::anyhow!("--{name} must be between 0 and 3650 days"))
            }
        };
        let by_type = self.retention_by_type.iter().map(|raw| RetentionPolicy::parse_rule(raw).map_err(|e| anyhow::anyhow!("--{e}")));
        Ok(RetentionPolicy {
            default: days(self.retention_days, "retention-days")?,
            by_type: by_type.collect::<anyhow::Result<_>>()?,
            dead: days(self.dead_retention_days, "dead-retention-days")?,
        })
    }

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
            max_backlog: self.max_backlog,
            auth: self.auth.to_config(),
            retention: self.retention_policy()?,
            purge_interval: Duration::from_secs(3600),
            secret_key: self.secret_key.clone().map(Redacted::new),
            secret_key_file: self.secret_key_file.clone(),
            rate_limits: RateLimits {
                management: Rate { per_second: self.management_rate, burst: self.management_burst },
                publish: Rate { per_second: self.publish_rate, burst: self.publish_burst },
            },
            health: HealthPolicy {
                failing_after: self.failing_after,
                failing_min: seconds(self.failing_min_secs, "failing-min-secs")?,
                probe_interval: seconds(self.probe_interval, "probe-interval")?,
                probe_max: Duration::from_secs(3600),
                disable_after: seconds(self.disable_after_secs, "disable-after-secs")?,
                recovery_rate: self.recovery_rate,
            },
            maintenance_interval: Duration::from_secs(1),
            maintenance_budget: seconds(self.maintenance_budget_secs, "maintenance-budget-secs")?,
        };
        config.validate()?;
        Ok(config)
    }
}
