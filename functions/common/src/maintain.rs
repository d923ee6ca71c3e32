//! The endpoint-health pass on a schedule (an EventBridge rule, every minute): probes failing
//! webhooks, disables those failing too long, and goes on releasing what recovered ones held.
//! The event's content does not matter; a failed pass fails the invocation, and the next
//! minute's runs it again.

use hookline_core::service::Maintenance;

use crate::wiring::Function;

/// Why a pass failed, as the invocation's `errorType`.
#[derive(Debug, thiserror::Error)]
#[error("the endpoint-health pass failed: {0}")]
pub struct MaintainError(String);

impl From<MaintainError> for lambda_runtime::Diagnostic {
    fn from(error: MaintainError) -> Self {
        Self { error_type: "Hookline.Internal".into(), error_message: error.to_string() }
    }
}

pub async fn handle(function: &Function, _event: serde_json::Value) -> Result<Maintenance, MaintainError> {
    let done = function.hookline.maintain().await.map_err(|error| MaintainError(error.to_string()))?;
    if done != Maintenance::default() {
        tracing::info!(
            probed = done.probed,
            recovered = done.recovered,
            disabled = done.disabled,
            released = done.released,
            "endpoint health"
        );
    }
    Ok(done)
}
