//! Who may do what: the three management roles and the caller they are granted to.

use serde_json::Value;

/// Management roles, each granting everything the ones before it grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// List and read.
    Read,
    /// Create, update, delete, test and replay.
    Write,
    /// Everything, including API keys and the audit trail.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "webhooks:read",
            Self::Write => "webhooks:write",
            Self::Admin => "webhooks:admin",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Read, Self::Write, Self::Admin].into_iter().find(|role| role.as_str() == raw)
    }
}

/// An authenticated caller of the management API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's `sub`: who acts, as the audit trail will name them.
    pub subject: String,
    pub roles: Vec<Role>,
}

impl Principal {
    pub fn has(&self, needed: Role) -> bool {
        self.roles.iter().any(|role| *role >= needed)
    }
}

/// Roles from a claim that is either a list of strings or one space-separated string
/// (OAuth's `scope`); unknown entries are ignored.
pub fn roles_from_claim(claim: Option<&Value>) -> Vec<Role> {
    let names: Vec<&str> = match claim {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(text)) => text.split_whitespace().collect(),
        _ => Vec::new(),
    };
    names.into_iter().filter_map(Role::parse).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn higher_roles_grant_everything_lower_ones_do() {
        let writer = Principal { subject: "w".into(), roles: vec![Role::Write] };
        assert!(writer.has(Role::Read));
        assert!(writer.has(Role::Write));
        assert!(!writer.has(Role::Admin));
        let nobody = Principal { subject: "n".into(), roles: Vec::new() };
        assert!(!nobody.has(Role::Read));
    }

    #[test]
    fn roles_come_from_lists_or_scope_strings() {
        assert_eq!(roles_from_claim(Some(&json!(["webhooks:read", "other"]))), [Role::Read]);
        assert_eq!(roles_from_claim(Some(&json!("openid webhooks:admin"))), [Role::Admin]);
        assert!(roles_from_claim(Some(&json!(42))).is_empty());
        assert!(roles_from_claim(None).is_empty());
    }
}
