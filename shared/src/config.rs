//! One typed configuration for a Hookline deployment, validated once at start-up.
//! The local binary fills it from its flags (each with a `HOOKLINE_*` environment twin).

use std::path::PathBuf;
use std::time::Duration;

use crate::adapters::http_sender::SenderConfig;
use crate::adapters::jwt::{JwtKeys, JwtSettings};
use crate::api::{ApiConfig, RateLimits};
use crate::domain::health::HealthPolicy;
use crate::domain::net_policy::NetPolicy;
use crate::domain::retention::RetentionPolicy;
use crate::domain::retry::RetryPolicy;
use crate::domain::webhook_url::UrlRules;
use crate::service::Settings;

/// The local queue's default bound, a minute of work at the rates `hookline bench` measures:
/// 8,192 tasks in the index (about 270 bytes each), the rest overflowing at 32 bytes each
/// where a fan-out's tasks share their event and about 60 where an event has one delivery (up
/// to twice that, as a deque doubles when it grows): 200,000 tasks take 8 to 20 MiB.
pub const DEFAULT_MAX_BACKLOG: u64 = 200_000;

#[derive(Debug, Clone)]
pub struct Config {
    /// Accept `http://` webhook URLs (local development only).
    pub allow_http: bool,
    /// Networks that may be delivered to even though they are private (for example 127.0.0.0/8 in tests).
    pub net: NetPolicy,
    /// The retry policy of webhooks that do not set their own.
    pub retry_policy: RetryPolicy,
    pub connect_timeout: Duration,
    /// The whole attempt: connect, send, and read the response.
    pub request_timeout: Duration,
    pub max_request_bytes: usize,
    pub max_event_bytes: usize,
    /// Deliveries in flight at once (local mode).
    pub workers: usize,
    /// Deliveries in flight at once to one webhook (local mode).
    pub per_webhook_concurrency: usize,
    /// How long a claimed task stays invisible before another worker may take it.
    pub visibility_timeout: Duration,
    /// The most delivery tasks the local queue holds (due, waiting for a retry, or in flight)
    /// before publishing is refused with 503 and `Retry-After`; 0 for no limit.
    pub max_backlog: u64,
    pub auth: AuthConfig,
    /// The key sealing signing secrets at rest (base64 of 32 bytes); takes precedence over the file.
    pub secret_key: Option<Redacted>,
    /// Where that key lives otherwise; by default `<data file>.secret-key`, created on first start.
    pub secret_key_file: Option<PathBuf>,
    /// How long events and delivery records are kept (open and held deliveries excepted), by
    /// event type, and dead deliveries until reviewed.
    pub retention: RetentionPolicy,
    /// How often expired records are looked for.
    pub purge_interval: Duration,
    /// Requests per second (and burst) per token subject and per API key.
    pub rate_limits: RateLimits,
    /// When a webhook fails, how it is probed, disabled and recovered.
    pub health: HealthPolicy,
    /// How often the endpoint-health pass (`Hookline::maintain`) runs in local mode.
    pub maintenance_interval: Duration,
    /// How long one pass may go on with bulk replays and the dead-letter sweep.
    pub maintenance_budget: Duration,
}

/// A configuration value that must never be printed.
#[derive(Clone)]
pub struct Redacted(String);

impl Redacted {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// How bearer tokens are verified.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Required `iss`.
    pub issuer: String,
    /// Required `aud`.
    pub audience: String,
    /// The claim that lists roles (`scope` is read as well).
    pub roles_claim: String,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway: Duration,
    /// An identity provider's keys (RS256 or ES256) as a JWKS file. When absent, tokens are
    /// HS256 with the local key.
    pub jwks_file: Option<PathBuf>,
    /// An identity provider's JWKS URL, fetched at start-up (which fails if it cannot be) and
    /// again every `jwks_refresh`. Takes precedence over `jwks_file`.
    pub jwks_url: Option<String>,
    pub jwks_refresh: Duration,
    /// The local HS256 key; by default `<data file>.auth-key`, created on first start.
    pub key_file: Option<PathBuf>,
}

impl AuthConfig {
    /// The verification settings: the configured issuer, audience, roles claim and leeway,
    /// with these keys.
    pub fn jwt_settings(&self, keys: JwtKeys) -> JwtSettings {
        JwtSettings {
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            keys,
            roles_claim: self.roles_claim.clone(),
            leeway: self.leeway,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            issuer: "hookline".into(),
            audience: "hookline".into(),
            roles_claim: "roles".into(),
            leeway: Duration::from_secs(30),
            jwks_file: None,
            jwks_url: None,
            jwks_refresh: Duration::from_secs(600),
            key_file: None,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            allow_http: false,
            net: NetPolicy::default(),
            retry_policy: RetryPolicy::default(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            max_request_bytes: 1024 * 1024,
            max_event_bytes: 256 * 1024,
            workers: 64,
            per_webhook_concurrency: 16,
            visibility_timeout: Duration::from_secs(60),
            max_backlog: DEFAULT_MAX_BACKLOG,
            auth: AuthConfig::default(),
            retention: RetentionPolicy::default(),
            purge_interval: Duration::from_secs(3600),
            secret_key: None,
            secret_key_file: None,
            rate_limits: RateLimits::default(),
            health: HealthPolicy::default(),
            maintenance_interval: Duration::from_secs(1),
            maintenance_budget: Duration::from_secs(40),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(pub String);

impl Config {
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.retry_policy.validate().map_err(|e| ConfigError(e.to_string()))?;
        if self.workers == 0 || self.per_webhook_concurrency == 0 {
            return Err(ConfigError("workers and per-webhook concurrency must be at least 1".into()));
        }
        if self.visibility_timeout <= self.request_timeout {
            return Err(ConfigError("the visibility timeout must be longer than the request timeout".into()));
        }
        let rates = [self.rate_limits.management, self.rate_limits.publish];
        if rates.iter().any(|rate| rate.per_second.is_nan() || rate.per_second <= 0.0 || rate.burst.is_nan() || rate.burst < 1.0) {
            return Err(ConfigError("rate limits need a positive rate and a burst of at least 1".into()));
        }
        let health = &self.health;
        if health.recovery_rate.is_nan() || health.recovery_rate <= 0.0 || health.probe_interval.is_zero() {
            return Err(ConfigError("the recovery rate and the probe interval must be positive".into()));
        }
        if self.max_event_bytes > self.max_request_bytes {
            return Err(ConfigError("the event size limit cannot exceed the request size limit".into()));
        }
        Ok(())
    }

    pub fn settings(&self) -> Settings {
        Settings {
            retry_policy: self.retry_policy.clone(),
            url_rules: UrlRules { allow_http: self.allow_http, net: self.net.clone() },
            max_event_bytes: self.max_event_bytes,
            health: self.health.clone(),
            maintenance_budget: self.maintenance_budget,
            max_backlog: (self.max_backlog > 0).then_some(self.max_backlog),
        }
    }

    pub fn sender(&self) -> SenderConfig {
        SenderConfig { connect_timeout: self.connect_timeout, request_timeout: self.request_timeout, net: self.net.clone() }
    }

    pub fn api(&self) -> ApiConfig {
        ApiConfig { max_request_bytes: self.max_request_bytes }
    }
}
