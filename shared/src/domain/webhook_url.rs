//! `WebhookUrl`: an endpoint address that passed the URL rules (scheme, no credentials,
//! no local names, no refused IP literals). Host names are checked again after DNS.

use std::net::IpAddr;

use url::{Host, Url};

use super::Invalid;
use super::net_policy::{NetPolicy, is_local_name};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(Url);

/// The rules a URL must pass, set by the operator.
#[derive(Debug, Clone, Default)]
pub struct UrlRules {
    /// `http://` is refused unless this is set (local mode's `--allow-http`).
    pub allow_http: bool,
    pub net: NetPolicy,
}

impl WebhookUrl {
    pub fn parse(raw: &str, rules: &UrlRules) -> Result<Self, Invalid> {
        let invalid = |detail: &str| Invalid::new("url", detail);
        if raw.len() > 2048 {
            return Err(invalid("must be at most 2048 characters"));
        }
        let url = Url::parse(raw).map_err(|e| invalid(&format!("is not a valid URL: {e}")))?;
        match url.scheme() {
            "https" => {}
            "http" if rules.allow_http => {}
            "http" => return Err(invalid("must use https:// (plain http is not allowed by this deployment)")),
            _ => return Err(invalid("must be an https:// URL")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("must not carry credentials; use custom headers instead"));
        }
        match url.host() {
            None => return Err(invalid("must have a host")),
            Some(Host::Domain(name)) if is_local_name(name) => return Err(invalid("points at a local host name")),
            Some(Host::Ipv4(ip)) if !rules.net.allows(IpAddr::V4(ip)) => return Err(refused_ip(IpAddr::V4(ip))),
            Some(Host::Ipv6(ip)) if !rules.net.allows(IpAddr::V6(ip)) => return Err(refused_ip(IpAddr::V6(ip))),
            Some(_) => {}
        }
        Ok(Self(url))
    }

    /// Reads back a URL that passed `parse` when it was stored; the rules may have changed
    /// since, so they are not applied again here (delivery checks addresses at connect time).
    pub fn from_stored(raw: &str) -> Option<Self> {
        Url::parse(raw).ok().map(Self)
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The host name when it is a name; `None` for IP literals, which `parse` already checked.
    pub fn domain(&self) -> Option<&str> {
        self.0.domain()
    }
}

pub fn refused_ip(ip: IpAddr) -> Invalid {
    Invalid::new("url", format!("resolves to {ip}, a private, loopback, link-local or reserved address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict() -> UrlRules {
        UrlRules::default()
    }

    #[test]
    fn public_https_urls_are_accepted() {
        for raw in ["https://example.com/hook", "https://93.184.216.34:8443/x?y=1", "https://[2606:4700::1111]/h"] {
            assert!(WebhookUrl::parse(raw, &strict()).is_ok(), "{raw}");
        }
    }

    #[test]
    fn plain_http_needs_the_operators_permission() {
        assert!(WebhookUrl::parse("http://example.com/hook", &strict()).is_err());
        let lax = UrlRules { allow_http: true, ..strict() };
        assert!(WebhookUrl::parse("http://example.com/hook", &lax).is_ok());
    }

    #[test]
    fn other_schemes_credentials_local_names_and_private_literals_are_refused() {
        let refused = [
            "ftp://example.com/x",
            "not a url",
            "https://user:pw@example.com/",
            "https://localhost/hook",
            "https://127.0.0.1/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/hook",
            "https://[::ffff:10.0.0.1]/hook",
            "https://10.1.2.3/",
            "https://0x7f000001/",
            "https://2130706433/",
        ];
        for raw in refused {
            assert!(WebhookUrl::parse(raw, &strict()).is_err(), "{raw} should be refused");
        }
    }

    #[test]
    fn the_allow_list_opens_loopback_for_local_receivers() {
        let rules = UrlRules { allow_http: true, net: NetPolicy { allow: vec!["127.0.0.0/8".parse().unwrap()] } };
        assert!(WebhookUrl::parse("http://127.0.0.1:9000/hook", &rules).is_ok());
        assert!(WebhookUrl::parse("http://10.0.0.1:9000/hook", &rules).is_err());
    }
}
