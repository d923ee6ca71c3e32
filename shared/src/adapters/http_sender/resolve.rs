//! Name resolution for the sender: through the `Resolver` port, keeping only the addresses
//! the network policy allows.

use std::error::Error as StdError;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::dns::Name;

use crate::domain::net_policy::NetPolicy;
use crate::ports::Resolver;

pub(super) type BoxError = Box<dyn StdError + Send + Sync>;

/// Every address a name resolved to is refused by the policy.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves only to refused addresses ({ip})")]
pub(super) struct Blocked {
    host: String,
    ip: IpAddr,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(super) struct DnsFailure(String);

#[derive(Clone)]
pub(super) struct GuardedResolver {
    resolver: Arc<dyn Resolver>,
    net: Arc<NetPolicy>,
}

impl GuardedResolver {
    pub(super) fn new(resolver: Arc<dyn Resolver>, net: NetPolicy) -> Self {
        Self { resolver, net: Arc::new(net) }
    }
}

impl tower_service::Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let (resolver, net, host) = (self.resolver.clone(), self.net.clone(), name.as_str().to_owned());
        Box::pin(async move {
            let found = resolver.resolve(&host).await.map_err(|e| Box::new(DnsFailure(e.to_string())) as BoxError)?;
            // Port 0: the connector puts the URL's port in.
            let allowed: Vec<SocketAddr> = found.iter().filter(|ip| net.allows(**ip)).map(|ip| SocketAddr::new(*ip, 0)).collect();
            if allowed.is_empty() {
                let ip = found.first().copied().unwrap_or(IpAddr::from([0, 0, 0, 0]));
                return Err(Box::new(Blocked { host, ip }) as BoxError);
            }
            Ok(allowed.into_iter())
        })
    }
}
