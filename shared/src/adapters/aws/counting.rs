//! Counting the requests the SDK clients send, by service and operation (each retry counts):
//! the benchmark's "AWS requests per delivery". Add `CountRequests` to a client's config. The
//! bodies of DynamoDB requests are kept too, for the benchmark's bill (what each request writes
//! and reads, in billed units).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;

/// Requests sent so far: `(service, operation)` → count; and each DynamoDB request's operation
/// and JSON body.
#[derive(Debug, Default)]
pub struct RequestCounts(Mutex<BTreeMap<(String, String), u64>>, Mutex<Vec<(String, Vec<u8>)>>);

impl RequestCounts {
    pub fn snapshot(&self) -> BTreeMap<(String, String), u64> {
        self.0.lock().map(|counts| counts.clone()).unwrap_or_default()
    }

    /// The DynamoDB requests sent so far: operation and body.
    pub fn dynamodb_requests(&self) -> Vec<(String, Vec<u8>)> {
        self.1.lock().map(|bodies| bodies.clone()).unwrap_or_default()
    }

    pub fn reset(&self) {
        if let Ok(mut counts) = self.0.lock() {
            counts.clear();
        }
        if let Ok(mut bodies) = self.1.lock() {
            bodies.clear();
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
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(metadata) = cfg.load::<Metadata>() else { return Ok(()) };
        if let Ok(mut counts) = self.0.0.lock() {
            *counts.entry((metadata.service().to_owned(), metadata.name().to_owned())).or_default() += 1;
        }
        if let (true, Some(body), Ok(mut bodies)) = (metadata.service() == "DynamoDB", context.request().body().bytes(), self.0.1.lock()) {
            bodies.push((metadata.name().to_owned(), body.to_vec()));
        }
        Ok(())
    }
}

/// DynamoDB operations that write (each is one write request, whatever it carries).
pub fn is_dynamodb_write(operation: &str) -> bool {
    matches!(operation, "PutItem" | "UpdateItem" | "DeleteItem" | "TransactWriteItems" | "BatchWriteItem")
}
