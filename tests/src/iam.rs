//! What IAM must allow each Lambda function: every request its SDK clients send in the
//! function tests is turned into the IAM actions AWS authorises it as (a transaction as the
//! actions it contains, a batch call of SQS as its single-message action) on the template's
//! logical resource, and appended to the file `HOOKLINE_TEST_IAM_LOG` names. The test command
//! then checks them against the functions' policies in `template.yaml`
//! (`scripts/check-iam.py`), which moto cannot do: it enforces no IAM.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use serde_json::{Value, json};

/// Set by `scripts/test.sh`: where the calls are written, one JSON object a line.
pub const LOG_VARIABLE: &str = "HOOKLINE_TEST_IAM_LOG";

/// One permission a call needs: `function` made `action` on `resource` (a logical id of
/// `template.yaml`, or `Table/index` for the table's indexes).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Permission {
    pub function: &'static str,
    pub action: String,
    pub resource: String,
}

/// Records the permissions of one function's calls; add it to that function's SDK clients.
#[derive(Debug, Clone)]
pub struct RecordCalls {
    function: &'static str,
    /// Physical names (table, queue URLs) → the template's logical ids.
    resources: Arc<HashMap<String, String>>,
}

impl RecordCalls {
    pub fn new(function: &'static str, resources: HashMap<String, String>) -> Self {
        Self { function, resources: Arc::new(resources) }
    }

    fn logical(&self, physical: &str) -> String {
        self.resources.get(physical).cloned().unwrap_or_else(|| format!("unknown resource {physical}"))
    }

    /// The permissions one request needs.
    pub fn permissions(&self, service: &str, operation: &str, body: &Value) -> Vec<Permission> {
        let permission = |action: String, resource: String| Permission { function: self.function, action, resource };
        match service.to_ascii_lowercase().as_str() {
            "dynamodb" => dynamodb_actions(operation, body)
                .into_iter()
                .map(|(action, table, index)| {
                    let table = self.logical(&table);
                    permission(format!("dynamodb:{action}"), if index { format!("{table}/index") } else { table })
                })
                .collect(),
            "sqs" => {
                let queue = self.logical(body["QueueUrl"].as_str().unwrap_or_default());
                vec![permission(format!("sqs:{}", operation.trim_end_matches("Batch")), queue)]
            }
            other => vec![permission(format!("{other}:{operation}"), "*".into())],
        }
    }
}

/// DynamoDB's actions for one request: (action, table, whether an index is read).
fn dynamodb_actions(operation: &str, body: &Value) -> Vec<(String, String, bool)> {
    let table_of = |value: &Value| value["TableName"].as_str().unwrap_or_default().to_owned();
    match operation {
        "TransactWriteItems" | "TransactGetItems" => body["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| item.as_object()?.iter().next().map(|(kind, inner)| (contained_action(kind), table_of(inner), false)))
            .collect(),
        "BatchWriteItem" | "BatchGetItem" => body["RequestItems"]
            .as_object()
            .into_iter()
            .flat_map(|tables| tables.keys().map(|table| (operation.to_owned(), table.clone(), false)))
            .collect(),
        _ => vec![(operation.to_owned(), table_of(body), body.get("IndexName").is_some())],
    }
}

/// The action a transaction's item is authorised as.
fn contained_action(kind: &str) -> String {
    match kind {
        "Put" => "PutItem",
        "Update" => "UpdateItem",
        "Delete" => "DeleteItem",
        "ConditionCheck" => "ConditionCheckItem",
        "Get" => "GetItem",
        other => other,
    }
    .to_owned()
}

impl Intercept for RecordCalls {
    fn name(&self) -> &'static str {
        "RecordCalls"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(metadata) = cfg.load::<Metadata>() else { return Ok(()) };
        let body = context.request().body().bytes().and_then(|bytes| serde_json::from_slice(bytes).ok()).unwrap_or(Value::Null);
        for permission in self.permissions(metadata.service(), metadata.name(), &body) {
            record(permission);
        }
        Ok(())
    }
}

/// Appends a permission to the log the first time this process sees it.
fn record(permission: Permission) {
    static SEEN: OnceLock<Mutex<BTreeSet<Permission>>> = OnceLock::new();
    let Ok(path) = std::env::var(LOG_VARIABLE) else { return };
    let Ok(mut seen) = SEEN.get_or_init(Default::default).lock() else { return };
    if !seen.insert(permission.clone()) {
        return;
    }
    let line = json!({"function": permission.function, "action": permission.action, "resource": permission.resource});
    if let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
        let _ = writeln!(file, "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorder() -> RecordCalls {
        let resources = [("t", "Table"), ("https://q/deliveries", "DeliveryQueue")];
        RecordCalls::new("ingest", resources.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect())
    }

    fn actions(service: &str, operation: &str, body: Value) -> Vec<(String, String)> {
        recorder().permissions(service, operation, &body).into_iter().map(|p| (p.action, p.resource)).collect()
    }

    #[test]
    fn a_transaction_needs_the_actions_it_contains() {
        let body =
            json!({"TransactItems": [{"Put": {"TableName": "t"}}, {"ConditionCheck": {"TableName": "t"}}, {"Delete": {"TableName": "t"}}]});
        let expected = [("dynamodb:PutItem", "Table"), ("dynamodb:ConditionCheckItem", "Table"), ("dynamodb:DeleteItem", "Table")];
        assert_eq!(actions("DynamoDB", "TransactWriteItems", body), expected.map(|(a, r)| (a.to_owned(), r.to_owned())));
    }

    #[test]
    fn batch_writes_index_reads_and_sqs_batches_map_to_their_iam_actions() {
        let batch = json!({"RequestItems": {"t": []}});
        assert_eq!(actions("DynamoDB", "BatchWriteItem", batch), [("dynamodb:BatchWriteItem".into(), "Table".into())]);
        let query = json!({"TableName": "t", "IndexName": "GSI1"});
        assert_eq!(actions("DynamoDB", "Query", query), [("dynamodb:Query".into(), "Table/index".into())]);
        let send = json!({"QueueUrl": "https://q/deliveries"});
        assert_eq!(actions("SQS", "SendMessageBatch", send), [("sqs:SendMessage".into(), "DeliveryQueue".into())]);
        let elsewhere = json!({"QueueUrl": "https://q/other"});
        assert_eq!(actions("SQS", "DeleteMessage", elsewhere)[0].1, "unknown resource https://q/other");
    }
}
