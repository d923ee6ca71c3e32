//! Which events a webhook receives: exact types, prefix wildcards (`customer.*`) or `*`.

use serde::{Serialize, Serializer};

use super::Invalid;
use super::catalog;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventPattern {
    /// One catalog type.
    Exact(String),
    /// `customer.*`: every type that starts with `customer.`, at any depth.
    Prefix(String),
    /// `*`: every ISP type (Hookline's own `hookline.*` types are subscribed to by name or prefix).
    All,
}

/// In the API a pattern is its text.
impl utoipa::PartialSchema for EventPattern {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("an event type (`invoice.paid`), a prefix wildcard (`customer.*`) or `*`"))
            .into()
    }
}

impl utoipa::ToSchema for EventPattern {}

impl EventPattern {
    /// Parses a pattern; it must name or cover at least one catalog type, so typos are caught at registration.
    pub fn parse(raw: &str, field: &str) -> Result<Self, Invalid> {
        let pattern = match raw {
            "*" => Self::All,
            _ => match raw.strip_suffix('*') {
                Some(prefix) if prefix.ends_with('.') && !prefix.contains('*') => Self::Prefix(prefix.to_owned()),
                Some(_) => return Err(Invalid::new(field, format!("'{raw}': a wildcard must end a prefix, as in 'customer.*'"))),
                None => Self::Exact(raw.to_owned()),
            },
        };
        if catalog::subscribable().any(|info| pattern.matches(&info.event_type)) {
            Ok(pattern)
        } else {
            Err(Invalid::new(field, format!("'{raw}' matches no event type in the catalog")))
        }
    }

    /// Reads back a stored pattern without consulting the catalog.
    pub fn from_stored(raw: &str) -> Self {
        match raw {
            "*" => Self::All,
            _ => raw.strip_suffix('*').map_or_else(|| Self::Exact(raw.to_owned()), |prefix| Self::Prefix(prefix.to_owned())),
        }
    }

    pub fn matches(&self, event_type: &str) -> bool {
        match self {
            Self::Exact(name) => name == event_type,
            Self::Prefix(prefix) => event_type.starts_with(prefix.as_str()),
            Self::All => !catalog::is_operational(event_type),
        }
    }

    pub fn as_string(&self) -> String {
        match self {
            Self::Exact(name) => name.clone(),
            Self::Prefix(prefix) => format!("{prefix}*"),
            Self::All => "*".to_owned(),
        }
    }
}

impl Serialize for EventPattern {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.as_string())
    }
}

/// Parses a webhook's `events` list: at least one pattern, at most 100, no duplicates.
pub fn parse_patterns(raw: &[String]) -> Result<Vec<EventPattern>, Invalid> {
    if raw.is_empty() || raw.len() > 100 {
        return Err(Invalid::new("events", "must list 1 to 100 event types or patterns"));
    }
    let mut patterns = Vec::with_capacity(raw.len());
    for (index, item) in raw.iter().enumerate() {
        let pattern = EventPattern::parse(item, &format!("events[{index}]"))?;
        if !patterns.contains(&pattern) {
            patterns.push(pattern);
        }
    }
    Ok(patterns)
}

/// True when any of `patterns` matches `event_type`.
pub fn any_matches(patterns: &[EventPattern], event_type: &str) -> bool {
    patterns.iter().any(|pattern| pattern.matches(event_type))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patterns(raw: &[&str]) -> Vec<EventPattern> {
        parse_patterns(&raw.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn exact_patterns_match_only_their_type() {
        let exact = patterns(&["invoice.paid"]);
        assert!(any_matches(&exact, "invoice.paid"));
        assert!(!any_matches(&exact, "invoice.created"));
    }

    #[test]
    fn prefix_wildcards_match_every_depth_below_the_prefix() {
        let customer = patterns(&["customer.*"]);
        assert!(any_matches(&customer, "customer.created"));
        assert!(any_matches(&customer, "customer.service.created"));
        assert!(!any_matches(&customer, "invoice.paid"));
        let network = patterns(&["network.device.*"]);
        assert!(any_matches(&network, "network.device.down"));
        assert!(!any_matches(&network, "network.site.created"));
    }

    #[test]
    fn a_star_matches_every_isp_type_and_none_of_hooklines_own() {
        let all = patterns(&["*"]);
        assert!(catalog::all().iter().all(|info| any_matches(&all, &info.event_type)));
        assert!(!catalog::operational().iter().any(|info| any_matches(&all, &info.event_type)));
        let operational = patterns(&["hookline.*"]);
        assert!(catalog::operational().iter().all(|info| any_matches(&operational, &info.event_type)));
        assert!(any_matches(&patterns(&["hookline.delivery.dead"]), "hookline.delivery.dead"));
    }

    #[test]
    fn typos_and_misplaced_wildcards_are_refused_with_their_index() {
        let list = |raw: &[&str]| parse_patterns(&raw.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(list(&["invoice.paid", "invoice.payed"]).unwrap_err().field, "events[1]");
        assert_eq!(list(&["cust*"]).unwrap_err().field, "events[0]");
        assert_eq!(list(&["*.created"]).unwrap_err().field, "events[0]");
        assert_eq!(list(&["webhook.*"]).unwrap_err().field, "events[0]");
        assert_eq!(list(&[]).unwrap_err().field, "events");
    }

    #[test]
    fn duplicate_patterns_are_kept_once() {
        assert_eq!(patterns(&["auth.*", "auth.*"]).len(), 1);
    }
}
