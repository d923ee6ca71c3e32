//! The outbound side's ports: sending one signed request, and resolving a receiver's name.

use std::time::Duration;

use async_trait::async_trait;

use crate::domain::outcome::ErrorKind;

/// The response to one HTTP attempt (any status).
#[derive(Debug, Clone)]
pub struct SendResponse {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body_excerpt: String,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind:?}: {detail}")]
pub struct SendError {
    pub kind: ErrorKind,
    pub detail: String,
}

/// One signed request, ready to send.
#[derive(Debug, Clone)]
pub struct OutboundRequest {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

#[async_trait]
pub trait WebhookSender: Send + Sync {
    async fn send(&self, request: OutboundRequest) -> Result<SendResponse, SendError>;
}

#[derive(Debug, thiserror::Error)]
#[error("could not resolve {host}: {detail}")]
pub struct ResolveError {
    pub host: String,
    pub detail: String,
}

/// DNS, as a port so tests can make a name resolve to any address.
#[async_trait]
pub trait Resolver: Send + Sync {
    async fn resolve(&self, host: &str) -> Result<Vec<std::net::IpAddr>, ResolveError>;
}
