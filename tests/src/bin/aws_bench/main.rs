//! The AWS benchmark: the functions' handlers over DynamoDB and SQS on the emulator (moto),
//! counting every request the SDK clients send, including the Lambda poller's receives and
//! deletes, which the harness does in its place. Prints requests per delivered webhook for
//! three ways of publishing, what they are billed (DynamoDB units from the requests' bodies,
//! `bill`; dollars per million deliveries at three receiver latencies, `prices`), then each
//! release binary's cold start.
//!
//! `scripts/aws-bench.sh` builds the release binaries, starts moto and runs this.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod batch_size;
mod bill;
mod cold_start;
mod prices;
mod workloads;

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Parser;
use hookline_core::adapters::aws::is_dynamodb_write;

#[derive(Parser)]
#[command(about = "Hookline's functions on the AWS emulator: AWS requests per delivery and cold starts.")]
struct Args {
    /// The emulator's endpoint.
    #[arg(long, env = "HOOKLINE_TEST_AWS_ENDPOINT")]
    endpoint: String,
    /// Events for the one-webhook workloads.
    #[arg(long, default_value_t = 1000)]
    events: usize,
    /// Events and webhooks for the fan-out workload.
    #[arg(long, default_value_t = 100)]
    fanout_events: usize,
    #[arg(long, default_value_t = 10)]
    fanout_webhooks: usize,
    /// Where the release binaries `api`, `ingest` and `deliver` are.
    #[arg(long, default_value = "target/release")]
    binaries: PathBuf,
    /// Deliveries per batch size and receiver in the comparison of `deliver`'s batch sizes (0
    /// leaves it out).
    #[arg(long, default_value_t = 400)]
    batch_deliveries: usize,
    /// Only the comparison of batch sizes.
    #[arg(long)]
    batch_sizes_only: bool,
    /// Cold starts measured per binary (the median is printed).
    #[arg(long, default_value_t = 5)]
    cold_starts: usize,
}

/// What a workload cost, per delivered webhook.
pub struct Cost {
    pub name: String,
    pub deliveries: usize,
    pub seconds: f64,
    pub counts: BTreeMap<(String, String), u64>,
    pub units: bill::Units,
    pub units_by_operation: BTreeMap<String, bill::Units>,
    pub invocations: Invocations,
}

/// Lambda invocations and API Gateway requests a workload made.
pub struct Invocations {
    pub ingest: u64,
    pub deliver: u64,
    pub http: u64,
}

impl Cost {
    fn per_delivery(&self, keep: impl Fn(&str, &str) -> bool) -> f64 {
        let total: u64 = self.counts.iter().filter(|((service, operation), _)| keep(service, operation)).map(|(_, n)| n).sum();
        total as f64 / self.deliveries.max(1) as f64
    }

    fn row(&self) -> String {
        let sqs_ours = self.per_delivery(|s, o| s == "SQS" && o != "ReceiveMessage" && o != "DeleteMessageBatch");
        let sqs_all = self.per_delivery(|s, _| s == "SQS");
        let writes = self.per_delivery(|s, o| s == "DynamoDB" && is_dynamodb_write(o));
        let reads = self.per_delivery(|s, o| s == "DynamoDB" && !is_dynamodb_write(o));
        format!(
            "| {} | {} | {:.0}/s | {sqs_all:.2} ({sqs_ours:.2} by Hookline) | {writes:.2} | {reads:.2} |",
            self.name,
            self.deliveries,
            self.deliveries as f64 / self.seconds
        )
    }

    /// Billed units per delivery and dollars per million deliveries at each receiver latency.
    fn bill_row(&self) -> String {
        let deliveries = self.deliveries.max(1) as f64;
        let (writes, reads) = (self.units.write / deliveries, self.units.read / deliveries);
        let sqs = self.per_delivery(|s, _| s == "SQS");
        let Invocations { ingest, deliver, http } = self.invocations;
        let fixed = writes * prices::DYNAMODB_WRITE_UNIT
            + reads * prices::DYNAMODB_READ_UNIT
            + sqs * prices::SQS_REQUEST
            + (ingest + deliver) as f64 / deliveries * prices::LAMBDA_INVOCATION
            + http as f64 / deliveries * prices::HTTP_API_REQUEST;
        let dollars = |latency: f64| {
            let seconds =
                ingest as f64 * prices::INVOCATION_OVERHEAD_SECONDS + deliver as f64 * (latency + prices::INVOCATION_OVERHEAD_SECONDS);
            1e6 * (fixed + seconds * prices::FUNCTION_GB * prices::LAMBDA_GB_SECOND / deliveries)
        };
        format!(
            "| {} | {writes:.2} | {reads:.2} | {sqs:.2} | {:.2} | ${:.2} · ${:.2} · ${:.2} |",
            self.name,
            (ingest + deliver) as f64 / deliveries,
            dollars(0.05),
            dollars(0.5),
            dollars(2.0)
        )
    }

    fn breakdown(&self) -> String {
        let deliveries = self.deliveries.max(1) as f64;
        let parts: Vec<String> = self
            .counts
            .iter()
            .map(|((service, operation), n)| match self.units_by_operation.get(operation) {
                Some(units) if service == "DynamoDB" => format!(
                    "{service} {operation} {n} ({:.2} WRU, {:.2} RRU per delivery)",
                    units.write / deliveries,
                    units.read / deliveries
                ),
                _ => format!("{service} {operation} {n}"),
            })
            .collect();
        format!("  {}: {}", self.name, parts.join(", "))
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if !args.batch_sizes_only {
        workloads(&args).await;
    }
    if args.batch_deliveries > 0 {
        compare_batch_sizes(&args).await;
    }
    if !args.batch_sizes_only {
        cold_starts(&args).await;
    }
}

async fn workloads(args: &Args) {
    let costs = vec![
        workloads::queued_batches(&args.endpoint, args.events).await,
        workloads::fan_out(&args.endpoint, args.fanout_events, args.fanout_webhooks).await,
        workloads::http_single(&args.endpoint, args.events / 5).await,
    ];
    println!(
        "| workload | deliveries | rate on moto | SQS requests per delivery | DynamoDB writes per delivery | DynamoDB reads per delivery |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    for cost in &costs {
        println!("{}", cost.row());
    }
    println!("\nbilled (DynamoDB units from each request's body and the items' sizes; see bill.rs):\n");
    println!(
        "| workload | WRU per delivery | RRU per delivery | SQS requests per delivery | Lambda invocations per delivery | $ per million deliveries at 50 ms · 500 ms · 2 s receivers |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    for cost in &costs {
        println!("{}", cost.bill_row());
    }
    println!("\nrequests by operation:");
    for cost in &costs {
        println!("{}", cost.breakdown());
    }
}

async fn cold_starts(args: &Args) {
    println!("\ncold start (process start to first answered invocation, median of {}):", args.cold_starts);
    for function in ["api", "ingest", "deliver"] {
        let binary = args.binaries.join(function);
        let size = std::fs::metadata(&binary).map(|m| m.len() as f64 / 1_000_000.0).unwrap_or(0.0);
        let millis = cold_start::median(&args.endpoint, &binary, function, args.cold_starts).await;
        println!("  {function}: {millis:.1} ms ({size:.1} MB binary)");
    }
}

async fn compare_batch_sizes(args: &Args) {
    println!(
        "\n`deliver`'s batch size ({} deliveries each; Lambda, the poller's SQS requests and the deliveries' DynamoDB writes):\n",
        args.batch_deliveries
    );
    println!(
        "| receiver | batch size | deliveries per invocation | wall-clock per invocation | billed per delivery | SQS requests per delivery | WRU per delivery | $ per million deliveries |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for cost in batch_size::compare(&args.endpoint, args.batch_deliveries).await {
        println!("{}", cost.row());
    }
}
