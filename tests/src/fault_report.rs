//! What a fault run (`fault_run`) found: per webhook, what became of the accepted events'
//! deliveries and what their receiver saw, beside the faults injected; and what is wrong.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use serde_json::Value;

use crate::TestReceiver;

/// One webhook's outcome.
#[derive(Debug, Default, Clone)]
pub struct WebhookOutcome {
    pub succeeded: usize,
    pub dead: usize,
    /// Deliveries neither succeeded nor dead when the run ended.
    pub open: usize,
    /// Accepted events with no delivery record.
    pub missing: usize,
    /// Events with more than one delivery record.
    pub recorded_twice: usize,
    /// Requests that arrived, and how many of them repeated a `webhook-id` already answered 2xx.
    pub requests: usize,
    pub repeats: usize,
    /// Dead deliveries with fewer attempts than the policy allows (the `down` receiver's).
    pub dead_early: usize,
}

/// What a run did and found.
#[derive(Debug, Default)]
pub struct FaultReport {
    pub accepted: usize,
    pub elapsed: Duration,
    pub unfinished: bool,
    pub calls: u64,
    pub throttled: u64,
    pub server_errors: u64,
    pub answers_lost: u64,
    pub killed_before_record: u64,
    pub responses_lost: u64,
    pub duplicated: u64,
    pub invocations: u64,
    pub ingest_failures: u64,
    /// Fan-out invocations (the table's stream) that failed and were retried, and stream
    /// batches handed over twice.
    pub fan_out_failures: u64,
    pub stream_repeats: u64,
    pub webhooks: BTreeMap<&'static str, WebhookOutcome>,
    /// Events the `steady` receiver never got, or whose delivery is not `succeeded` there.
    pub lost: usize,
}

impl FaultReport {
    /// What is wrong; empty when nothing accepted was lost or recorded twice.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.unfinished {
            problems.push("the queue did not drain in time".to_owned());
        }
        if self.lost > 0 {
            problems.push(format!("{} accepted events lost", self.lost));
        }
        for (name, outcome) in &self.webhooks {
            for (count, what) in [
                (outcome.open, "still open"),
                (outcome.missing, "with no delivery record"),
                (outcome.recorded_twice, "recorded twice"),
                (outcome.dead_early, "dead before their last attempt"),
            ] {
                if count > 0 {
                    problems.push(format!("{name}: {count} deliveries {what}"));
                }
            }
        }
        if name_count(&self.webhooks, "down", |o| o.succeeded) > 0 {
            problems.push("the receiver that is down had deliveries succeed".to_owned());
        }
        problems
    }
}

fn name_count(webhooks: &BTreeMap<&'static str, WebhookOutcome>, name: &str, field: impl Fn(&WebhookOutcome) -> usize) -> usize {
    webhooks.get(name).map(field).unwrap_or(0)
}

impl fmt::Display for FaultReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "fault run: {} events accepted in {:.1} s{}",
            self.accepted,
            self.elapsed.as_secs_f64(),
            if self.unfinished { " (unfinished)" } else { "" }
        )?;
        writeln!(
            f,
            "  injected: {} AWS calls, {} throttled, {} failed with 500, {} applied with the answer lost; {} invocations killed before recording an attempt sent, {} batch responses lost, {} messages delivered again late",
            self.calls,
            self.throttled,
            self.server_errors,
            self.answers_lost,
            self.killed_before_record,
            self.responses_lost,
            self.duplicated
        )?;
        writeln!(
            f,
            "  {} deliver invocations; failed and retried: {} publishing ingest invocations, {} fan-out invocations; {} stream batches handed over twice",
            self.invocations, self.ingest_failures, self.fan_out_failures, self.stream_repeats
        )?;
        writeln!(f, "  webhook   succeeded  dead  open  missing  recorded twice  requests  repeated webhook-ids")?;
        for (name, o) in &self.webhooks {
            writeln!(
                f,
                "  {name:<8} {:>10} {:>5} {:>5} {:>8} {:>15} {:>9} {:>21}",
                o.succeeded, o.dead, o.open, o.missing, o.recorded_twice, o.requests, o.repeats
            )?;
        }
        write!(f, "  lost: {}", self.lost)
    }
}

/// What `records` (a webhook's deliveries) and `receiver` say of the `accepted` events.
pub fn outcome(accepted: &BTreeSet<String>, records: &[Value], receiver: &TestReceiver) -> WebhookOutcome {
    let mut per_event: BTreeMap<&str, usize> = BTreeMap::new();
    for record in records {
        *per_event.entry(record["event_id"].as_str().unwrap_or_default()).or_default() += 1;
    }
    let status = |wanted: &str| records.iter().filter(|d| d["status"] == wanted).count();
    let requests = receiver.received();
    let mut answered = BTreeSet::new();
    let repeats = requests.iter().filter(|r| r.status == 200 && !answered.insert(r.header("webhook-id").to_owned())).count();
    WebhookOutcome {
        succeeded: status("succeeded"),
        dead: status("dead"),
        open: records.len() - status("succeeded") - status("dead"),
        missing: accepted.iter().filter(|id| !per_event.contains_key(id.as_str())).count(),
        recorded_twice: per_event.values().filter(|count| **count > 1).count(),
        requests: requests.len(),
        repeats,
        dead_early: records.iter().filter(|d| d["status"] == "dead" && d["attempts"].as_u64() < Some(3)).count(),
    }
}
