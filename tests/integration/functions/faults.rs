//! Faults the emulator hides (`hookline_tests::fault_run`): AWS calls throttled, failed and
//! answered too late, SQS messages duplicated and late, invocations killed mid-batch; and the
//! SDK's retries that absorb most of them, bounded.

use std::sync::Arc;
use std::time::Instant;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use hookline_core::adapters::aws::timeout_config;
use hookline_tests::emulator::Emulator;
use hookline_tests::fault_run::{FaultRunSettings, run};
use hookline_tests::faults::{FaultCounts, FaultLayer, FaultPlan};

/// `HOOKLINE_FAULT_EVENTS` events (200 unless set; `scripts/aws-fault-run.sh` runs thousands).
fn events() -> usize {
    std::env::var("HOOKLINE_FAULT_EVENTS").ok().and_then(|count| count.parse().ok()).unwrap_or(200)
}

#[tokio::test]
async fn nothing_accepted_is_lost_or_recorded_twice_when_aws_fails_duplicates_and_kills() {
    let events = events();
    // `HOOKLINE_FAULT_RATE` events a second at most (as fast as accepted unless set).
    let rate = std::env::var("HOOKLINE_FAULT_RATE").ok().and_then(|rate| rate.parse().ok());
    let report = run(FaultRunSettings { rate, ..FaultRunSettings::standard(events) }).await;
    println!("{report}");
    assert_eq!(report.accepted, events, "{report}");
    assert_eq!(report.problems(), Vec::<String>::new(), "{report}");
    let injected = [
        report.throttled,
        report.server_errors,
        report.answers_lost,
        report.killed_before_record,
        report.responses_lost,
        report.duplicated,
    ];
    assert!(injected.iter().all(|count| *count > 0), "every kind of fault happened: {report}");
    let steady = &report.webhooks["steady"];
    assert_eq!((steady.succeeded, steady.dead), (events, 0), "{report}");
    assert_eq!(report.webhooks["down"].dead, events, "{report}");
    assert!(
        report.webhooks.values().map(|w| w.repeats).sum::<usize>() > 0,
        "kills and duplicates reach receivers as repeated ids: {report}"
    );
}

#[tokio::test]
async fn a_throttled_call_is_retried_with_backoff_and_given_up_after_five_attempts() {
    let emulator = Emulator::connect().await;
    let table = emulator.fresh_table().await;
    for (throttled, succeeds) in [(4, true), (5, false)] {
        let counts = Arc::new(FaultCounts::default());
        let layer = FaultLayer::new(FaultPlan { throttle_first: throttled, ..FaultPlan::default() }, counts.clone());
        let config = emulator.dynamodb.config();
        let faulty = config.to_builder().http_client(layer.wrap(config.http_client())).build();
        let started = Instant::now();
        let answer = aws_sdk_dynamodb::Client::from_conf(faulty).describe_table().table_name(&table).send().await;
        assert_eq!(FaultCounts::get(&counts.calls), 5, "one call and four retries");
        match answer {
            Ok(_) => assert!(succeeds, "{throttled} throttled answers"),
            Err(error) => {
                assert!(!succeeds, "{error:?}");
                assert_eq!(error.code(), Some("ThrottlingException"));
            }
        }
        assert!(started.elapsed() < timeout_config().operation_timeout().unwrap(), "the retries are bounded");
    }
}
