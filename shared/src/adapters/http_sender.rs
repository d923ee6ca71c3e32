//! The outbound HTTP adapter: reqwest with safe defaults. Timeouts on connect and on the
//! whole request, no redirects, no proxy, a cap on how much of a response is kept, and
//! every address checked against the network policy after DNS resolution, so a name that
//! resolves (or later re-resolves) to a private address is never connected to.

use std::error::Error as StdError;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::RETRY_AFTER;

use crate::domain::delivery::{RESPONSE_EXCERPT_BYTES, excerpt};
use crate::domain::net_policy::NetPolicy;
use crate::domain::outcome::ErrorKind;
use crate::ports::{OutboundRequest, Resolver, SendError, SendResponse, WebhookSender};

/// How much of a response body is read before the connection is given up on.
const DRAIN_LIMIT: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct SenderConfig {
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub net: NetPolicy,
}

pub struct ReqwestSender {
    client: reqwest::Client,
    net: NetPolicy,
}

impl ReqwestSender {
    pub fn new(config: &SenderConfig, resolver: Arc<dyn Resolver>) -> Result<Self, reqwest::Error> {
        let guarded = GuardedResolver { resolver, net: config.net.clone() };
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .pool_idle_timeout(Duration::from_secs(90))
            .dns_resolver(guarded)
            .build()?;
        Ok(Self { client, net: config.net.clone() })
    }

    fn check_literal(&self, url: &reqwest::Url) -> Result<(), SendError> {
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        match literal {
            Some(ip) if !self.net.allows(ip) => {
                Err(SendError { kind: ErrorKind::Blocked, detail: format!("{ip} is not an allowed address") })
            }
            _ => Ok(()),
        }
    }
}

#[async_trait]
impl WebhookSender for ReqwestSender {
    async fn send(&self, request: &OutboundRequest) -> Result<SendResponse, SendError> {
        let url = reqwest::Url::parse(&request.url).map_err(|e| SendError { kind: ErrorKind::Connect, detail: e.to_string() })?;
        self.check_literal(&url)?;
        let mut builder = self.client.post(url).body(request.body.clone());
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let mut response = builder.send().await.map_err(|e| classify_error(&e))?;
        let status = response.status().as_u16();
        let retry_after = response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
        let mut body = Vec::new();
        while body.len() < DRAIN_LIMIT {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk[..chunk.len().min(DRAIN_LIMIT - body.len())]),
                Ok(None) | Err(_) => break,
            }
        }
        body.truncate(RESPONSE_EXCERPT_BYTES);
        Ok(SendResponse { status, retry_after, body_excerpt: excerpt(&body) })
    }
}

/// `Retry-After` as delay-seconds or an HTTP date.
pub fn parse_retry_after(raw: &str) -> Option<Duration> {
    if let Ok(seconds) = raw.trim().parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(raw.trim()).ok()?;
    Some(at.duration_since(std::time::SystemTime::now()).unwrap_or(Duration::ZERO))
}

#[derive(Debug, thiserror::Error)]
#[error("{host} resolves only to refused addresses ({ip})")]
struct Blocked {
    host: String,
    ip: IpAddr,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct DnsFailure(String);

/// Resolves through the `Resolver` port and keeps only addresses the policy allows.
struct GuardedResolver {
    resolver: Arc<dyn Resolver>,
    net: NetPolicy,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let (resolver, net, host) = (self.resolver.clone(), self.net.clone(), name.as_str().to_owned());
        Box::pin(async move {
            let found =
                resolver.resolve(&host).await.map_err(|e| Box::new(DnsFailure(e.to_string())) as Box<dyn StdError + Send + Sync>)?;
            let allowed: Vec<SocketAddr> = found.iter().filter(|ip| net.allows(**ip)).map(|ip| SocketAddr::new(*ip, 0)).collect();
            if allowed.is_empty() {
                let ip = found.first().copied().unwrap_or(IpAddr::from([0, 0, 0, 0]));
                return Err(Box::new(Blocked { host, ip }) as Box<dyn StdError + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

fn classify_error(error: &reqwest::Error) -> SendError {
    let mut chain: Vec<&(dyn StdError + 'static)> = vec![error];
    let mut current: &(dyn StdError + 'static) = error;
    while let Some(source) = current.source() {
        chain.push(source);
        current = source;
    }
    let detail = chain.iter().skip(1).map(ToString::to_string).next_back().unwrap_or_else(|| error.to_string());
    let kind = if chain.iter().any(|e| e.is::<Blocked>()) {
        ErrorKind::Blocked
    } else if chain.iter().any(|e| e.is::<DnsFailure>()) {
        ErrorKind::Dns
    } else if error.is_timeout() {
        ErrorKind::Timeout
    } else if chain.iter().any(|e| looks_like_tls(&e.to_string())) {
        ErrorKind::Tls
    } else {
        ErrorKind::Connect
    };
    SendError { kind, detail }
}

fn looks_like_tls(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    ["certificate", "tls", "handshake", "invalid peer"].iter().any(|word| lower.contains(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon"), None);
    }
}
