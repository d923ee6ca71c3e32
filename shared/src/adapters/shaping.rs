//! How a webhook's deliveries fit its receiver (signature profile, content filter,
//! transformation) as both stores keep it: the expressions' source text, compiled again on read.

use serde::{Deserialize, Serialize};

use crate::domain::content_filter::ContentFilter;
use crate::domain::signature_profile::SignatureProfile;
use crate::domain::transform::Transform;
use crate::domain::webhook::Webhook;

/// The stored form; every field defaults, so records written before it read as "as before".
#[derive(Default, Serialize, Deserialize)]
pub struct StoredShaping {
    #[serde(default)]
    signature: SignatureProfile,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    filter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    transform: Option<String>,
}

/// The compiled form, ready to go back into a `Webhook`.
pub struct Shaping {
    pub signature: SignatureProfile,
    pub filter: Option<ContentFilter>,
    pub transform: Option<Transform>,
}

impl StoredShaping {
    pub fn of(webhook: &Webhook) -> Self {
        Self {
            signature: webhook.signature.clone(),
            filter: webhook.filter.as_ref().map(|f| f.source().to_owned()),
            transform: webhook.transform.as_ref().map(|t| t.source().to_owned()),
        }
    }

    /// Compiles the stored expressions; `Err` names the field that no longer compiles.
    pub fn compile(self) -> Result<Shaping, &'static str> {
        Ok(Shaping {
            signature: self.signature,
            filter: self.filter.as_deref().map(ContentFilter::compile).transpose().map_err(|_| "filter")?,
            transform: self.transform.as_deref().map(Transform::compile).transpose().map_err(|_| "transform")?,
        })
    }
}
