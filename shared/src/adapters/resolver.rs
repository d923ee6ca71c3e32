//! Name resolution: the system resolver, and a fixed table for tests.

use std::collections::HashMap;
use std::net::IpAddr;

use async_trait::async_trait;

use crate::ports::{ResolveError, Resolver};

/// The operating system's resolver (`getaddrinfo` through tokio).
pub struct SystemResolver;

#[async_trait]
impl Resolver for SystemResolver {
    async fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, ResolveError> {
        let found = tokio::net::lookup_host((host, 0)).await.map_err(|e| ResolveError { host: host.to_owned(), detail: e.to_string() })?;
        let addresses: Vec<IpAddr> = found.map(|socket| socket.ip()).collect();
        if addresses.is_empty() {
            return Err(ResolveError { host: host.to_owned(), detail: "no addresses".into() });
        }
        Ok(addresses)
    }
}

/// Names mapped to addresses by hand; anything else falls through to the system resolver.
/// Lets tests make a public-looking name resolve to a loopback or metadata address.
pub struct StaticResolver {
    pub table: HashMap<String, Vec<IpAddr>>,
}

#[async_trait]
impl Resolver for StaticResolver {
    async fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, ResolveError> {
        match self.table.get(&host.to_ascii_lowercase()) {
            Some(addresses) => Ok(addresses.clone()),
            None => SystemResolver.resolve(host).await,
        }
    }
}
