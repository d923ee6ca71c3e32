//! Every sample event in `events/` through its function's handler, in an order that makes
//! each one meaningful (the webhook exists before it is read), checking the answer and the
//! table and queue state it leaves; and the same walk with the HTTP requests of a named stage
//! (`events/prod-stage/`, what `template.yaml` deploys) and as the SAM CLI generates them
//! (`events/sam-cli/`). A sample file with no check here fails the test.

use std::collections::BTreeSet;
use std::time::Duration;

use hookline_core::domain::ids::{DeliveryId, EventId, WebhookId};
use hookline_tests::TestReceiver;
use hookline_tests::functions::{Functions, Poll, events_dir, sample_event, spawn_functions};
use serde_json::Value;

use super::{SAMPLE_KEY, deliveries_of};

/// When the sample delivery task says its delivery was created; replaced by now, or the
/// delivery would be stored past its retention.
const SAMPLE_CREATED_AT: &str = "2026-03-12T19:04:00.000Z";

/// The named stage's variants of the HTTP requests.
const NAMED_STAGE: &str = "prod-stage";

struct Walk<'a> {
    functions: &'a Functions,
    /// Where HTTP requests are read from first: `events/` itself, or a stage's folder in it.
    folder: &'a str,
    replacements: Vec<(String, String)>,
    covered: BTreeSet<String>,
}

impl Walk<'_> {
    fn event(&mut self, name: &str) -> Value {
        let in_folder = format!("{}/{name}", self.folder);
        let name =
            if !self.folder.is_empty() && events_dir().join(format!("{in_folder}.json")).is_file() { in_folder } else { name.to_owned() };
        self.covered.insert(name.clone());
        let name = name.as_str();
        let pairs: Vec<(&str, &str)> = self.replacements.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        sample_event(name, &pairs)
    }

    fn replace(&mut self, from: &str, to: &str) {
        self.replacements.push((from.to_owned(), to.to_owned()));
    }

    async fn api(&mut self, name: &str, status: u16) -> Value {
        let event = self.event(name);
        let (got, body) = self.functions.api(event).await;
        assert_eq!(got, status, "{name}: {body}");
        body
    }

    async fn ingest(&mut self, name: &str) -> Value {
        let event = self.event(name);
        self.functions.ingest(event).await
    }
}

#[tokio::test]
async fn every_sample_event_is_handled_by_its_function() {
    walk_every_sample("").await;
}

#[tokio::test]
async fn every_http_route_answers_on_a_named_stage() {
    walk_every_sample(NAMED_STAGE).await;
}

/// Requests in the shape the SAM CLI generates (`scripts/generate-events.py`), not ours.
#[tokio::test]
async fn every_http_route_answers_requests_shaped_by_the_sam_cli() {
    walk_every_sample("sam-cli").await;
}

/// The sample files of `events/` (`folder` empty) or of one of its folders.
fn sample_files(folder: &str) -> BTreeSet<String> {
    std::fs::read_dir(events_dir().join(folder))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .map(|path| {
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            if folder.is_empty() { stem } else { format!("{folder}/{stem}") }
        })
        .collect()
}

async fn walk_every_sample(folder: &str) {
    let functions = spawn_functions(3, "1").await;
    let receiver = TestReceiver::start().await;
    let mut walk = Walk { functions: &functions, folder, replacements: Vec::new(), covered: BTreeSet::new() };
    walk.replace("https://crm.example.com/hooks/hookline", &receiver.url);

    let webhook = walk.api("api-create-webhook", 201).await["id"].as_str().unwrap().to_owned();
    walk.replace("wh_sample", &webhook);
    let key = walk.api("api-create-api-key", 201).await;
    walk.replace(SAMPLE_KEY, key["key"].as_str().unwrap());
    walk.replace("key_sample", key["id"].as_str().unwrap());

    // Publishing from every source: invoice.paid twice over HTTP, customer.created from
    // EventBridge (all three for the webhook), network.device.down from SNS and ticket.assigned
    // from SQS (no subscriber), and a refused record in the SQS batch.
    let published = walk.ingest("ingest-http-publish").await;
    assert_eq!(published["statusCode"], 202, "{published}");
    let batch = walk.ingest("ingest-http-batch").await;
    assert_eq!(batch["statusCode"], 200, "{batch}");
    let eventbridge = walk.ingest("ingest-eventbridge").await;
    assert_eq!(eventbridge["published"], 1, "{eventbridge}");
    assert_eq!(walk.ingest("ingest-eventbridge").await["duplicates"], 1, "EventBridge redeliveries are deduplicated by its event id");
    assert_eq!(walk.ingest("ingest-sns").await["published"], 1);
    let queued = walk.ingest("ingest-sqs").await;
    let failures: Vec<&str> =
        queued["batchItemFailures"].as_array().unwrap().iter().map(|f| f["itemIdentifier"].as_str().unwrap()).collect();
    assert_eq!(failures, ["0f1c2b7e-6f0a-4e57-9d44-5d0c1f3c1a02"], "the unknown event type is reported, the valid record is not");
    // Publishing recorded them; the table's stream fans them out (moto runs no triggers: the
    // test's poller hands the inserted events to `ingest`). The sample stream batch holds an
    // event nobody subscribes to, its erasure, a delivery item, an attempt's write and a
    // removal: only the insert of the event is fanned out, and the attempt counted.
    assert_eq!(deliveries_of(&functions, &webhook).await.len(), 0, "nothing is fanned out before the stream is read");
    assert_eq!(functions.fan_out().await, 6, "two over HTTP, two in the batch, EventBridge, SNS and SQS");
    let streamed = walk.ingest("ingest-stream").await;
    assert_eq!(streamed, serde_json::json!({"events": 1, "deliveries": 0, "attempts": 1, "unreadable": 0}));
    assert_eq!(deliveries_of(&functions, &webhook).await.len(), 0, "a delivery is stored with its first attempt; its task carries it");
    assert_eq!(functions.visible_tasks().await, 3);

    // The delivery consumer on its sample batch, a task carrying the EventBridge event's
    // delivery (its id derives from the event's and the webhook's).
    let event_id = EventId::parse(&format!("evt_{}", walk.event("ingest-eventbridge")["id"].as_str().unwrap())).unwrap();
    let delivery_id = DeliveryId::for_pair(&event_id, &WebhookId::parse(&webhook).unwrap());
    walk.replace("dlv_sample", delivery_id.as_str());
    walk.replace("evt_sample", event_id.as_str());
    walk.replace(SAMPLE_CREATED_AT, &hookline_core::domain::event::format_timestamp(chrono::Utc::now()));
    let event = walk.event("deliver-batch");
    let response = hookline_lambda::deliver::handle(&functions.deliver_function, serde_json::from_value(event).unwrap()).await;
    assert!(response.batch_item_failures.is_empty(), "delivered, and the poison record dead-lettered");
    assert_eq!(receiver.wait_for(1).await[0].json()["event_type"], "customer.created");
    assert_eq!(functions.dead_letters().await, ["not a delivery task"]);
    let mut drained = Poll::default();
    while functions.visible_tasks().await > 0 {
        let poll = functions.poll().await;
        drained = Poll { received: drained.received + poll.received, failed: drained.failed + poll.failed };
    }
    assert_eq!(drained, Poll { received: 3, failed: 0 });
    assert_eq!(receiver.wait_for_within(3, Duration::from_secs(5)).await.len(), 3, "the already delivered one is not sent twice");

    // Every management route.
    walk.api("api-health", 200).await;
    assert!(walk.api("api-openapi", 200).await["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")));
    let page = walk.api("api-dashboard", 200).await;
    assert!(page.as_str().is_some_and(|html| html.contains("src=\"ui/app.js\"")), "the dashboard's page: {page}");
    let module = walk.api("api-dashboard-asset", 200).await;
    assert!(module.as_str().is_some_and(|js| js.contains("export async function call")), "ui/api.js: {module}");
    assert_eq!(walk.api("api-list-event-types", 200).await["data"].as_array().unwrap().len(), 30, "25 ISP types and Hookline's 5");
    walk.api("api-get-event-type", 200).await;
    assert_eq!(walk.api("api-list-webhooks", 200).await["data"][0]["id"], webhook.as_str());
    assert_eq!(walk.api("api-get-webhook", 200).await["events"][1], "invoice.paid");
    walk.api("api-update-webhook", 200).await;
    walk.api("api-test-webhook", 200).await;
    let tried = walk.api("api-test-filter", 200).await;
    assert_eq!((tried["source"].as_str(), tried["matched"].as_u64()), (Some("recent"), Some(2)), "the two invoice events: {tried}");
    walk.api("api-get-secret", 200).await;
    walk.api("api-rotate-secret", 200).await;
    // The three published events, and the test ping.
    assert_eq!(walk.api("api-list-webhook-deliveries", 200).await["data"].as_array().unwrap().len(), 4);
    assert_eq!(walk.api("api-list-deliveries", 200).await["data"].as_array().unwrap().len(), 4);
    assert_eq!(walk.api("api-get-delivery", 200).await["attempts_log"].as_array().unwrap().len(), 1);
    let refused = walk.api("api-acknowledge-delivery", 409).await;
    assert_eq!(refused["code"], "conflict", "only a dead delivery is acknowledged: {refused}");
    walk.api("api-replay-delivery", 202).await;
    walk.api("api-replay-dead", 202).await;
    let replay = walk.api("api-bulk-replay", 202).await;
    walk.replace("rpl_sample", replay["id"].as_str().unwrap());
    assert_eq!(walk.api("api-get-replay", 200).await["finished"], true, "nothing dead or cancelled to replay: {replay}");
    functions.count_attempts().await;
    assert!(walk.api("api-metrics", 200).await["totals"]["attempts"].as_u64().unwrap() >= 3, "counted from the stream");
    assert_eq!(walk.api("api-list-api-keys", 200).await["data"].as_array().unwrap().len(), 1);
    assert_eq!(walk.api("api-enable-webhook", 200).await["state"], "active", "enabling an active webhook changes nothing");
    if folder.is_empty() {
        let event = walk.event("maintain-schedule");
        let done = hookline_lambda::maintain::handle(&functions.maintain_function, event).await.unwrap();
        assert_eq!(done, hookline_core::service::Maintenance::default(), "nothing failing, nothing to release");
    }
    walk.replace("evt_sample", "evt_sample_http_1");
    walk.api("api-erase-event", 204).await;
    walk.api("api-revoke-api-key", 204).await;
    walk.api("api-delete-webhook", 204).await;
    let audit = walk.api("api-audit", 200).await;
    assert!(audit["data"].as_array().unwrap().len() >= 7, "{audit}");
    walk.api("api-get-webhook", 404).await;

    let files = sample_files(folder);
    assert!(files.is_subset(&walk.covered), "every file in events/{folder} is checked: {:?}", files.difference(&walk.covered));
}

/// What API Gateway routes is what `template.yaml` declares: every HTTP request in `events/`
/// (one per route the router serves) has its route there, or it would be a 404 as deployed.
#[test]
fn every_http_sample_has_its_route_in_the_template() {
    let template = std::fs::read_to_string(events_dir().join("../template.yaml")).unwrap();
    let lines: Vec<&str> = template.lines().map(str::trim).collect();
    let mut routes: BTreeSet<String> = lines.iter().filter_map(|line| line.strip_prefix("RouteKey: ")).map(str::to_owned).collect();
    // The ingest function's own HttpApi events: `Method:` followed by `Path:`.
    for pair in lines.windows(2) {
        if let (Some(method), Some(path)) = (pair[0].strip_prefix("Method: "), pair[1].strip_prefix("Path: ")) {
            routes.insert(format!("{method} {path}"));
        }
    }
    let mut missing = Vec::new();
    for name in sample_files("") {
        let event = sample_event(&name, &[]);
        if let Some(route) = event["routeKey"].as_str().filter(|route| !routes.contains(*route)) {
            missing.push(format!("{name}: {route}"));
        }
    }
    assert!(missing.is_empty(), "routes the template does not declare: {missing:?}");
}
