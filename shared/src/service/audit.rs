//! Recording and reading the audit trail.

use super::{Hookline, ServiceError};
use crate::domain::audit::{Actor, AuditAction, AuditEntry};
use crate::ports::{AuditFilter, Page};

impl Hookline {
    /// Records a change made by `actor`. Called after the change succeeded.
    pub async fn audit(&self, actor: &Actor, action: AuditAction, target: &str) -> Result<(), ServiceError> {
        let entry = AuditEntry::new(actor, action, target, self.clock.now());
        tracing::info!(actor = %entry.actor, action = action.as_str(), target, "audited");
        Ok(self.stores.audit.append(&entry).await?)
    }

    pub async fn audit_trail(&self, filter: &AuditFilter) -> Result<Page<AuditEntry>, ServiceError> {
        Ok(self.stores.audit.list(filter).await?)
    }
}
