//! `MetricsStore`: rollups written as attempts are recorded (on DynamoDB, counted from the
//! table's stream), read back as known figures; on DynamoDB, a query's cost depends on its
//! buckets, not on how many deliveries there were.

use chrono::{DateTime, Duration, DurationRound, Utc};
use hookline_core::adapters::aws::{CountRequests, Dynamo, DynamoDbMetricsStore};
use hookline_core::domain::delivery::{Attempt, Delivery, DeliveryStatus};
use hookline_core::domain::ids::{EventId, WebhookId};
use hookline_core::domain::metrics::{Bucket, Counts, Finished, Level, MetricsQuery, RollupKey, RollupSelection, Sample, bucket_of};
use hookline_core::domain::outcome::ErrorKind;
use hookline_core::ports::{AttemptRecord, MetricsStore};
use hookline_tests::emulator::Emulator;
use hookline_tests::stream::StreamPoller;

use super::{Backend, aws_with_table, now, sqlite};

/// The start of a minute ten minutes before the first call: every attempt below falls inside
/// it. Taken once, so a test that runs across a minute's end keeps one base.
fn base() -> DateTime<Utc> {
    static BASE: std::sync::OnceLock<DateTime<Utc>> = std::sync::OnceLock::new();
    *BASE.get_or_init(|| now().duration_trunc(Duration::minutes(1)).unwrap() - Duration::minutes(10))
}

fn attempt(number: u32, after_ms: i64, duration_ms: u64, status: u16) -> Attempt {
    Attempt {
        number,
        started_at: base() + Duration::milliseconds(after_ms),
        duration_ms,
        status_code: Some(status),
        response_excerpt: None,
        error_kind: (status >= 300).then_some(ErrorKind::HttpStatus),
        error_detail: None,
        next_attempt_at: None,
    }
}

async fn record(backend: &Backend, delivery: &Delivery, attempt: Attempt, status: DeliveryStatus) {
    let record = AttemptRecord::new(delivery, attempt, status, None);
    backend.stores.deliveries.record_attempt(&delivery.id, &record, now()).await.unwrap();
}

fn query(bucket: Bucket) -> MetricsQuery {
    MetricsQuery::new(Some(base() - Duration::minutes(5)), Some(base() + Duration::minutes(5)), Some(bucket), now()).unwrap()
}

/// `stream`: where attempts are counted from the table's stream (DynamoDB), its poller.
async fn metrics_add_up_to_the_attempts_recorded(backend: &Backend, stream: Option<&StreamPoller>) {
    let (crm, noc) = (WebhookId::generate(1), WebhookId::generate(2));
    let new = |event: &str, webhook: &WebhookId, event_type: &str| {
        let mut delivery = Delivery::new(EventId::parse(event).unwrap(), webhook.clone(), event_type, base());
        delivery.created_at = base();
        delivery
    };
    let (retried, first_time, dead) =
        (new("evt_m1", &crm, "invoice.paid"), new("evt_m2", &crm, "invoice.paid"), new("evt_m3", &noc, "network.device.down"));
    backend.stores.deliveries.create(&[retried.clone(), first_time.clone(), dead.clone()]).await.unwrap();
    record(backend, &retried, attempt(1, 0, 100, 503), DeliveryStatus::Retrying).await;
    record(backend, &retried, attempt(2, 5_000, 20, 200), DeliveryStatus::Succeeded).await;
    record(backend, &retried, attempt(2, 5_000, 20, 200), DeliveryStatus::Succeeded).await;
    record(backend, &first_time, attempt(1, 1_000, 40, 200), DeliveryStatus::Succeeded).await;
    record(backend, &dead, attempt(1, 2_000, 300, 500), DeliveryStatus::Dead).await;
    match stream {
        Some(stream) => backend.stores.metrics.count_from_stream(&stream.take_samples().await).await.unwrap(),
        None => backend.stores.metrics.flush().await.unwrap(),
    };

    let q = query(Bucket::Minute);
    let report = q.report(&backend.stores.metrics.rollups(&q.selection()).await.unwrap());
    let totals = &report.totals;
    assert_eq!(
        (totals.attempts, totals.failed_attempts, totals.succeeded, totals.dead),
        (4, 2, 2, 1),
        "an attempt recorded twice counts once"
    );
    assert_eq!(totals.success_rate, Some(2.0 / 3.0));
    assert_eq!(totals.attempt_duration.avg_ms, Some(115.0), "(100 + 20 + 40 + 300) / 4");
    assert_eq!(totals.delivery_latency.avg_ms, Some(3_030.0), "(5,020 + 1,040) / 2: from the event to the 2xx");
    let within_bucket = |estimate: Option<f64>, exact: u64| {
        let estimate = estimate.unwrap();
        let bucket = bucket_of(exact);
        assert_eq!(bucket_of(estimate.ceil() as u64), bucket, "{estimate} is in the bucket of {exact}");
    };
    within_bucket(totals.attempt_duration.p99_ms, 300);
    within_bucket(totals.attempt_duration.p50_ms, 100);
    within_bucket(totals.delivery_latency.p95_ms, 5_020);
    assert_eq!(report.series.len(), 10);
    assert_eq!(report.series.iter().find(|point| point.at == base()).map(|point| point.summary.attempts), Some(4));
    let failures: Vec<_> =
        report.failures_by_webhook.iter().map(|f| (f.webhook_id.clone(), f.failed_attempts, f.dead_deliveries)).collect();
    let mut expected = vec![(crm.clone(), 1, 0), (noc.clone(), 1, 1)];
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(failures, expected);
    let types: Vec<_> = report.event_types.iter().map(|t| (t.event_type.as_str(), t.deliveries, t.attempts)).collect();
    assert_eq!(types, [("invoice.paid", 2, 3), ("network.device.down", 1, 1)]);

    let hourly = query(Bucket::Hour);
    let by_hour = hourly.report(&backend.stores.metrics.rollups(&hourly.selection()).await.unwrap());
    assert_eq!(by_hour.totals, report.totals, "hour rollups hold the same figures");
    let narrowed = MetricsQuery { webhook_id: Some(crm.clone()), ..query(Bucket::Minute) };
    assert_eq!(narrowed.report(&backend.stores.metrics.rollups(&narrowed.selection()).await.unwrap()).totals.attempts, 3);
    let of_type = MetricsQuery { event_type: Some("network.device.down".into()), ..query(Bucket::Hour) };
    assert_eq!(of_type.report(&backend.stores.metrics.rollups(&of_type.selection()).await.unwrap()).totals.dead, 1);
}

#[tokio::test]
async fn sqlite_metrics_add_up_to_the_attempts_recorded() {
    metrics_add_up_to_the_attempts_recorded(&sqlite().await, None).await;
}

#[tokio::test]
async fn aws_metrics_add_up_to_the_attempts_recorded() {
    let (backend, emulator, table) = aws_with_table().await;
    let stream = StreamPoller::of(&emulator, &table).await;
    metrics_add_up_to_the_attempts_recorded(&backend, Some(&stream)).await;
}

/// How many deliveries the cost check counts: `HOOKLINE_TEST_METRICS_DELIVERIES`, 10,000 unless set.
fn deliveries() -> u64 {
    std::env::var("HOOKLINE_TEST_METRICS_DELIVERIES").ok().and_then(|raw| raw.parse().ok()).unwrap_or(10_000)
}

/// 10,000 deliveries over 20 minutes to two webhooks, their samples written as the table's
/// stream hands them to `ingest` (in 100 batches, to keep the emulator's time down; what one batch writes is
/// checked above); the query for the hour reads a few items in a few requests, counted by the
/// SDK request counter the benchmark uses.
#[tokio::test]
async fn aws_a_metrics_query_costs_the_same_at_any_traffic() {
    let emulator = Emulator::connect().await;
    let table = emulator.fresh_table().await;
    let writer = DynamoDbMetricsStore::new(Dynamo::new(emulator.dynamodb.clone(), &table));
    let webhooks = [WebhookId::generate(1), WebhookId::generate(2)];
    let total = deliveries();
    let (mut flushes, mut batch) = (0, Vec::new());
    for n in 0..total {
        let at = base() - Duration::minutes(20) + Duration::milliseconds(i64::try_from(n * 1_200_000 / total).unwrap());
        let latency_ms = 10 + n % 1_000;
        let sample = Sample {
            webhook_id: webhooks[usize::try_from(n % 2).unwrap()].clone(),
            event_type: "customer.created".into(),
            at,
            attempt_ms: latency_ms,
            error_kind: None,
            finished: Some(Finished::Succeeded { latency_ms }),
        };
        batch.push(sample);
        if n % 100 == 99 {
            writer.count_from_stream(&std::mem::take(&mut batch)).await.unwrap();
            flushes += 1;
        }
    }
    writer.count_from_stream(&batch).await.unwrap();

    let counter = CountRequests::default();
    let counted = Emulator::connect_to(&hookline_tests::emulator::endpoint(), Some(counter.clone())).await;
    let reader = DynamoDbMetricsStore::new(Dynamo::new(counted.dynamodb, &table));
    let hour =
        MetricsQuery::new(Some(base() - Duration::minutes(30)), Some(base() + Duration::minutes(30)), Some(Bucket::Minute), now()).unwrap();
    let started = std::time::Instant::now();
    let rollups = reader.rollups(&hour.selection()).await.unwrap();
    let report = hour.report(&rollups);
    let (requests, took): (u64, _) = (counter.0.snapshot().values().sum(), started.elapsed());
    eprintln!(
        "metrics query over {total} deliveries ({flushes} batch flushes): {requests} requests, {} rollup items read, {took:?}",
        rollups.len()
    );
    assert_eq!(report.totals.attempts, total);
    assert_eq!(report.totals.succeeded, total);
    // 32 shards, a day's partition each; a webhook's rollup of a minute in up to 4 of them.
    assert!(requests <= 2 * 32, "one query per shard and day: {requests}");
    assert!(rollups.len() <= 2 * 21 * 4, "at most four items per webhook and minute: {}", rollups.len());
}

/// On DynamoDB hour rollups are folded from the minutes once an hour has ended (`maintain`):
/// the hour figures are the same before and after, and an hour once folded is read from its
/// hour rollups (a sample flushed into it later counts in its minute only).
#[tokio::test]
async fn aws_hours_are_folded_from_their_minutes_once_they_end() {
    let emulator = Emulator::connect().await;
    let table = emulator.fresh_table().await;
    let store = DynamoDbMetricsStore::new(Dynamo::new(emulator.dynamodb.clone(), &table));
    let first_hour = now().duration_trunc(Duration::hours(1)).unwrap() - Duration::hours(3);
    let webhook = WebhookId::generate(7);
    let sample = |at: DateTime<Utc>| Sample {
        webhook_id: webhook.clone(),
        event_type: "invoice.paid".into(),
        at,
        attempt_ms: 30,
        error_kind: None,
        finished: Some(Finished::Succeeded { latency_ms: 30 }),
    };
    // A first pass before the samples: the hours after it are folded from their minutes.
    store.fold(first_hour + Duration::minutes(10)).await.unwrap();
    for minutes in [5, 59, 61, 125] {
        store.count_from_stream(&[sample(first_hour + Duration::minutes(minutes))]).await.unwrap();
    }
    let hours = RollupSelection { level: Level::Hour, from: first_hour, until: now(), webhook_id: None, event_type: None };
    let attempts_by_hour = |rollups: Vec<(RollupKey, Counts)>| {
        let mut by_hour: Vec<(i64, u64)> = Vec::new();
        for (key, counts) in rollups {
            let hour = (key.start - first_hour).num_hours();
            match by_hour.iter_mut().find(|(h, _)| *h == hour) {
                Some((_, attempts)) => *attempts += counts.attempts,
                None => by_hour.push((hour, counts.attempts)),
            }
        }
        by_hour.sort_unstable();
        by_hour
    };
    let before = attempts_by_hour(store.rollups(&hours).await.unwrap());
    assert_eq!(before, [(0, 2), (1, 1), (2, 1)], "summed from the minutes before any fold");

    store.fold(now()).await.unwrap();
    store.fold(now()).await.unwrap();
    assert_eq!(attempts_by_hour(store.rollups(&hours).await.unwrap()), before, "the same figures, folded once");

    store.count_from_stream(&[sample(first_hour + Duration::minutes(30))]).await.unwrap();
    assert_eq!(attempts_by_hour(store.rollups(&hours).await.unwrap()), before, "a folded hour is read from its hour rollup");
    let minutes = RollupSelection { level: Level::Minute, ..hours };
    let in_minutes: u64 = store.rollups(&minutes).await.unwrap().iter().map(|(_, counts)| counts.attempts).sum();
    assert_eq!(in_minutes, 5, "the late sample is in its minute");
}
