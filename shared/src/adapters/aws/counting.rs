//! Counting the requests the SDK clients send, by service and operation (each retry counts):
//! the benchmark's "AWS requests per delivery". Add `CountRequests` to a client's config.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;

/// Requests sent so far: `(service, operation)` → count.
#[derive(Debug, Default)]
pub struct RequestCounts(Mutex<BTreeMap<(String, String), u64>>);

impl RequestCounts {
    pub fn snapshot(&self) -> BTreeMap<(String, String), u64> {
        self.0.lock().map(|counts| counts.clone()).unwrap_or_default()
    }

    pub fn reset(&self) {
        if let Ok(mut counts) = self.0.lock() {
            counts.clear();
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct CountRequests(pub Arc<RequestCounts>);

impl Intercept for CountRequests {
    fn name(&self) -> &'static str {
        "CountRequests"
    }

    fn read_before_transmit(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let (Some(metadata), Ok(mut counts)) = (cfg.load::<Metadata>(), self.0.0.lock()) {
            *counts.entry((metadata.service().to_owned(), metadata.name().to_owned())).or_default() += 1;
        }
        Ok(())
    }
}

/// DynamoDB operations that write (each is one write request, whatever it carries).
pub fn is_dynamodb_write(operation: &str) -> bool {
    matches!(operation, "PutItem" | "UpdateItem" | "DeleteItem" | "TransactWriteItems" | "BatchWriteItem")
}
