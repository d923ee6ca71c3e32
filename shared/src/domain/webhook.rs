//! A subscription: where to send which events, signed with which secret, retried how.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::Invalid;
use super::content_filter::ContentFilter;
use super::filter::{EventPattern, any_matches, parse_patterns};
use super::health::{Health, WebhookState};
use super::ids::WebhookId;
use super::retry::{RetryPolicy, Schedule};
use super::secret::SigningSecret;
use super::signature_profile::{SignatureProfile, SignatureRequest};
use super::transform::Transform;
use super::webhook_url::{UrlRules, WebhookUrl};

#[derive(Debug, Clone)]
pub struct Webhook {
    pub id: WebhookId,
    pub name: String,
    pub url: WebhookUrl,
    pub secret: SigningSecret,
    /// Secrets replaced by a rotation that still sign until they expire, newest first.
    pub retired_secrets: Vec<RetiredSecret>,
    pub events: Vec<EventPattern>,
    /// Whether deliveries are attempted (active) or held (paused, failing, disabled).
    pub state: WebhookState,
    /// When `state` last changed.
    pub state_changed_at: DateTime<Utc>,
    /// The recent attempts' record, kept apart from the rest (it changes with every failure).
    pub health: Health,
    pub description: Option<String>,
    /// Sent with every delivery, after Hookline's own headers (which they cannot replace).
    pub headers: BTreeMap<String, String>,
    /// `None` means the deployment's policy applies.
    pub retry_policy: Option<RetryPolicy>,
    /// At most this many attempts per second, across every consumer; over it a delivery waits.
    pub rate_limit_per_sec: Option<f64>,
    /// How its requests are signed.
    pub signature: SignatureProfile,
    /// Which of its types' events it gets: those this matches (all when `None`).
    pub filter: Option<ContentFilter>,
    /// The body it is sent instead of the envelope (the envelope when `None`).
    pub transform: Option<Transform>,
    /// Why Hookline stopped attempting this webhook (a 410, failures), while it is not active.
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A secret replaced by a rotation, still signing during its grace period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetiredSecret {
    pub secret: SigningSecret,
    pub expires_at: DateTime<Utc>,
}

/// How many retired secrets a webhook keeps signing with (Svix keeps 10).
pub const MAX_RETIRED_SECRETS: usize = 10;
/// The longest grace period a rotation may give the old secret.
pub const MAX_GRACE: chrono::Duration = chrono::Duration::days(7);

impl Webhook {
    /// Every secret a delivery made `now` is signed with: the current one first, then the
    /// retired ones still in their grace period (one `webhook-signature` entry each).
    pub fn signing_secrets(&self, now: DateTime<Utc>) -> Vec<&SigningSecret> {
        let retired = self.retired_secrets.iter().filter(|r| r.expires_at > now).map(|r| &r.secret);
        std::iter::once(&self.secret).chain(retired).collect()
    }

    /// Makes `new` the current secret; the old one keeps signing for `grace`.
    pub fn rotate(&mut self, new: SigningSecret, grace: chrono::Duration, now: DateTime<Utc>) {
        let old = std::mem::replace(&mut self.secret, new);
        self.retired_secrets.retain(|r| r.expires_at > now);
        if grace > chrono::Duration::zero() {
            self.retired_secrets.insert(0, RetiredSecret { secret: old, expires_at: now + grace });
        }
        self.retired_secrets.truncate(MAX_RETIRED_SECRETS);
        self.updated_at = now;
    }

    /// The secret as the text a GitHub- or Stripe-style verifier is given, for those profiles.
    pub fn secret_text(&self) -> Option<&str> {
        self.signature.takes_text_secrets().then(|| self.secret.as_text()).flatten()
    }

    /// What is wrong with the secret short of refusing it: too short a key, or, in a profile
    /// whose receivers take the secret as text, a key that is not text.
    pub fn secret_warnings(&self) -> Vec<String> {
        let mut warnings: Vec<String> = self.secret.warning().into_iter().collect();
        if self.signature.takes_text_secrets() && self.secret.as_text().is_none() {
            warnings.push(
                "this signature profile's verifiers take the secret as text, and this secret's key is not text: rotate the secret (a generated one will be text)"
                    .to_owned(),
            );
        }
        warnings
    }

    /// The seed's `is_active`: deliveries are being attempted.
    pub fn is_active(&self) -> bool {
        self.state == WebhookState::Active
    }

    /// Subscribed to `event_type`, in whatever state (an inactive webhook's deliveries are held).
    pub fn wants(&self, event_type: &str) -> bool {
        any_matches(&self.events, event_type)
    }

    pub fn policy<'a>(&'a self, deployment: &'a RetryPolicy) -> &'a RetryPolicy {
        self.retry_policy.as_ref().unwrap_or(deployment)
    }
}

/// The body of `POST /webhooks` and `PUT /webhooks/{id}`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookRequest {
    pub name: String,
    pub url: String,
    /// `whsec_` + base64 of the key, or plain text whose UTF-8 bytes are the key (8 to 256
    /// bytes); generated when absent.
    pub secret: Option<String>,
    pub events: Vec<String>,
    #[serde(default = "yes")]
    pub is_active: bool,
    pub description: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub retry_policy: Option<RetryPolicyRequest>,
    pub rate_limit_per_sec: Option<f64>,
    /// `standard-webhooks` (the default), `github`, `stripe`, or
    /// `{"profile": "stripe", "header_prefix": "Acme"}`.
    pub signature: Option<SignatureRequest>,
    /// A CEL expression over the envelope (`id`, `event_type`, `timestamp`, `data`,
    /// `metadata`): only events it is true for are delivered, such as
    /// `data.site_id == "site-12" && data.severity in ["major", "critical"]`.
    pub filter: Option<String>,
    /// A CEL expression over the envelope whose value is sent instead of it, such as
    /// `{"customer": data.id, "email": data.email, "kind": event_type}`.
    pub transform: Option<String>,
}

fn yes() -> bool {
    true
}

/// A per-webhook retry policy: a named preset, an explicit schedule, or exponential parameters.
/// Fields left out keep the preset's (or the default policy's) values.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicyRequest {
    pub preset: Option<String>,
    pub max_attempts: Option<u32>,
    pub base_delay_secs: Option<f64>,
    pub factor: Option<f64>,
    pub max_delay_secs: Option<f64>,
    pub schedule_secs: Option<Vec<f64>>,
    pub jitter: Option<f64>,
}

/// A parsed [`WebhookRequest`]: everything a webhook has but its id, timestamps and (maybe) secret.
#[derive(Debug, Clone)]
pub struct WebhookDraft {
    pub name: String,
    pub url: WebhookUrl,
    pub secret: Option<SigningSecret>,
    pub events: Vec<EventPattern>,
    pub is_active: bool,
    pub description: Option<String>,
    pub headers: BTreeMap<String, String>,
    pub retry_policy: Option<RetryPolicy>,
    pub rate_limit_per_sec: Option<f64>,
    pub signature: SignatureProfile,
    pub filter: Option<ContentFilter>,
    pub transform: Option<Transform>,
}

/// The fastest per-webhook rate limit that means anything (one attempt per millisecond).
pub const MAX_RATE_LIMIT: f64 = 1000.0;

impl WebhookRequest {
    pub fn parse(self, rules: &UrlRules) -> Result<WebhookDraft, Invalid> {
        let name = self.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(Invalid::new("name", "must be 1 to 200 characters"));
        }
        if self.description.as_ref().is_some_and(|d| d.chars().count() > 1000) {
            return Err(Invalid::new("description", "must be at most 1000 characters"));
        }
        let signature = self.signature.map(SignatureRequest::parse).transpose()?.unwrap_or_default();
        let headers = parse_headers(self.headers)?;
        if let Some(taken) = signature.header_names().into_iter().find(|name| headers.contains_key(name)) {
            return Err(Invalid::new(format!("headers.{taken}"), "is the signature profile's and cannot be overridden"));
        }
        Ok(WebhookDraft {
            name,
            url: WebhookUrl::parse(&self.url, rules)?,
            secret: self.secret.as_deref().map(SigningSecret::parse).transpose()?,
            events: parse_patterns(&self.events)?,
            is_active: self.is_active,
            description: self.description,
            headers,
            retry_policy: self.retry_policy.map(RetryPolicyRequest::parse).transpose()?,
            rate_limit_per_sec: self.rate_limit_per_sec.map(parse_rate).transpose()?,
            signature,
            filter: self.filter.as_deref().map(ContentFilter::compile).transpose()?,
            transform: self.transform.as_deref().map(Transform::compile).transpose()?,
        })
    }
}

impl RetryPolicyRequest {
    pub fn parse(self) -> Result<RetryPolicy, Invalid> {
        let mut policy = match self.preset.as_deref() {
            None => RetryPolicy::default(),
            Some(name) => RetryPolicy::preset(name)
                .ok_or_else(|| Invalid::new("retry_policy.preset", format!("unknown preset '{name}' (known: default, svix)")))?,
        };
        if let Some(delays_secs) = self.schedule_secs {
            policy.max_attempts = u32::try_from(delays_secs.len() + 1).unwrap_or(u32::MAX);
            policy.schedule = Schedule::Explicit { delays_secs };
        } else if self.base_delay_secs.is_some() || self.factor.is_some() || self.max_delay_secs.is_some() {
            let (base, factor, max) = match RetryPolicy::default().schedule {
                Schedule::Exponential { base_delay_secs, factor, max_delay_secs } => (base_delay_secs, factor, max_delay_secs),
                Schedule::Explicit { .. } => (10.0, 5.0, 3600.0),
            };
            policy.schedule = Schedule::Exponential {
                base_delay_secs: self.base_delay_secs.unwrap_or(base),
                factor: self.factor.unwrap_or(factor),
                max_delay_secs: self.max_delay_secs.unwrap_or(max),
            };
        }
        policy.max_attempts = self.max_attempts.unwrap_or(policy.max_attempts);
        policy.jitter = self.jitter.unwrap_or(policy.jitter);
        policy.validate()?;
        Ok(policy)
    }
}

fn parse_rate(rate: f64) -> Result<f64, Invalid> {
    if rate.is_finite() && rate > 0.0 && rate <= MAX_RATE_LIMIT {
        Ok(rate)
    } else {
        Err(Invalid::new("rate_limit_per_sec", format!("must be above 0 and at most {MAX_RATE_LIMIT} attempts per second")))
    }
}

/// Headers Hookline sets itself, or that would break the request; users cannot set them.
const RESERVED_HEADERS: &[&str] = &["content-type", "content-length", "host", "user-agent", "transfer-encoding", "connection"];

fn parse_headers(headers: BTreeMap<String, String>) -> Result<BTreeMap<String, String>, Invalid> {
    if headers.len() > 20 {
        return Err(Invalid::new("headers", "at most 20 custom headers"));
    }
    let mut parsed = BTreeMap::new();
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        let field = format!("headers.{name}");
        let token = !lower.is_empty() && lower.len() <= 100 && lower.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
        if !token {
            return Err(Invalid::new(field, "is not a valid header name"));
        }
        if RESERVED_HEADERS.contains(&lower.as_str()) || lower.starts_with("webhook-") || lower.starts_with("x-hookline-") {
            return Err(Invalid::new(field, "is set by Hookline and cannot be overridden"));
        }
        if value.len() > 1024 || value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(Invalid::new(field, "value must be at most 1024 bytes without line breaks"));
        }
        parsed.insert(lower, value);
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(overrides: serde_json::Value) -> WebhookRequest {
        let mut base = json!({"name": "CRM", "url": "https://example.com/hook", "events": ["customer.*"]});
        base.as_object_mut().unwrap().extend(overrides.as_object().unwrap().clone());
        serde_json::from_value(base).unwrap()
    }

    fn field_of(overrides: serde_json::Value) -> String {
        request(overrides).parse(&UrlRules::default()).unwrap_err().field
    }

    #[test]
    fn a_minimal_request_is_active_with_the_default_policy() {
        let draft = request(json!({})).parse(&UrlRules::default()).unwrap();
        assert!(draft.is_active);
        assert!(draft.secret.is_none());
        assert!(draft.retry_policy.is_none());
    }

    /// An active webhook subscribed to `customer.*`.
    fn customer_webhook(secret: SigningSecret, now: DateTime<Utc>) -> Webhook {
        let draft = request(json!({})).parse(&UrlRules::default()).unwrap();
        Webhook {
            id: WebhookId::generate(0),
            name: draft.name,
            url: draft.url,
            secret,
            retired_secrets: Vec::new(),
            events: draft.events,
            state: WebhookState::Active,
            state_changed_at: now,
            health: Health::default(),
            description: None,
            headers: BTreeMap::new(),
            retry_policy: None,
            rate_limit_per_sec: None,
            signature: SignatureProfile::default(),
            filter: None,
            transform: None,
            disabled_reason: None,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn a_webhook_wants_its_types_in_any_state_but_is_active_only_when_active() {
        let mut webhook = customer_webhook(SigningSecret::generate(), Utc::now());
        assert!(webhook.wants("customer.created") && webhook.is_active());
        assert!(!webhook.wants("invoice.paid"));
        webhook.state = WebhookState::Failing;
        assert!(webhook.wants("customer.created") && !webhook.is_active());
    }

    #[test]
    fn each_bad_field_is_named() {
        assert_eq!(field_of(json!({"name": " "})), "name");
        assert_eq!(field_of(json!({"url": "http://example.com"})), "url");
        assert_eq!(field_of(json!({"secret": "hunter2"})), "secret");
        assert_eq!(field_of(json!({"events": ["nope.nope"]})), "events[0]");
        assert_eq!(field_of(json!({"headers": {"Webhook-Signature": "x"}})), "headers.Webhook-Signature");
        assert_eq!(field_of(json!({"headers": {"X-Ok": "a\r\nb"}})), "headers.X-Ok");
        assert_eq!(field_of(json!({"retry_policy": {"preset": "forever"}})), "retry_policy.preset");
        assert_eq!(field_of(json!({"retry_policy": {"max_attempts": 99}})), "retry_policy.max_attempts");
        assert_eq!(field_of(json!({"rate_limit_per_sec": 0})), "rate_limit_per_sec");
        assert_eq!(field_of(json!({"rate_limit_per_sec": 5000})), "rate_limit_per_sec");
        assert_eq!(field_of(json!({"signature": "github", "headers": {"X-Hub-Signature-256": "x"}})), "headers.x-hub-signature-256");
    }

    #[test]
    fn a_rotated_secret_keeps_signing_until_its_grace_period_ends() {
        let now = Utc::now();
        let (first, second) = (SigningSecret::generate(), SigningSecret::generate());
        let mut webhook = customer_webhook(first.clone(), now);
        webhook.rotate(second.clone(), chrono::Duration::hours(24), now);
        assert_eq!(webhook.signing_secrets(now), [&second, &first]);
        assert_eq!(webhook.signing_secrets(now + chrono::Duration::hours(25)), [&second]);
        for _ in 0..12 {
            webhook.rotate(SigningSecret::generate(), chrono::Duration::hours(1), now);
        }
        assert_eq!(webhook.retired_secrets.len(), MAX_RETIRED_SECRETS);
        webhook.rotate(SigningSecret::generate(), chrono::Duration::zero(), now + chrono::Duration::hours(2));
        assert!(webhook.retired_secrets.is_empty(), "expired ones are dropped and a zero grace retires at once");
    }

    #[test]
    fn retry_policies_come_from_presets_schedules_or_parameters() {
        let svix = RetryPolicyRequest { preset: Some("svix".into()), ..Default::default() }.parse().unwrap();
        assert_eq!(svix, RetryPolicy::svix());
        let explicit = RetryPolicyRequest { schedule_secs: Some(vec![1.0, 2.0]), jitter: Some(0.0), ..Default::default() };
        let explicit = explicit.parse().unwrap();
        assert_eq!(explicit.max_attempts, 3);
        assert_eq!(explicit.schedule, Schedule::Explicit { delays_secs: vec![1.0, 2.0] });
        let exponential = RetryPolicyRequest { max_attempts: Some(5), base_delay_secs: Some(2.0), ..Default::default() };
        let exponential = exponential.parse().unwrap();
        assert_eq!(exponential.max_attempts, 5);
        assert_eq!(exponential.schedule, Schedule::Exponential { base_delay_secs: 2.0, factor: 5.0, max_delay_secs: 3600.0 });
    }
}
