//! Publish through `ingest`, drain the delivery queue through `deliver` like the Lambda poller,
//! and check what a real receiver got and what the table and queues hold.

use std::time::Duration;

use hookline_tests::TestReceiver;
use hookline_tests::functions::{Poll, spawn_functions};

use super::{create_webhook, deliveries_of, publish};

#[tokio::test]
async fn a_published_event_is_delivered_signed_and_its_message_deleted() {
    let functions = spawn_functions(3, "1,1").await;
    let receiver = TestReceiver::start().await;
    let (webhook, secret) = create_webhook(&functions, &receiver.url, &["invoice.*"]).await;
    let published = publish(&functions, "invoice.paid").await;
    assert_eq!(published["published"], 1, "{published}");

    assert_eq!(functions.poll().await, Poll { received: 1, failed: 0 });
    let got = receiver.wait_for(1).await;
    assert!(got[0].verifies_with(&secret), "the delivery verifies with the webhook's secret");
    assert_eq!(got[0].json()["event_type"], "invoice.paid");
    assert_eq!(deliveries_of(&functions, &webhook).await[0]["status"], "succeeded");
    assert_eq!(functions.visible_tasks().await, 0, "the poller deleted the finished message");

    // One EMF document per invocation, and the batch's rollups written for the metrics query.
    // `ingest` ran twice: publishing, then the fan-out the table's stream invoked.
    let ingested = functions.ingest_function.metrics_log.documents();
    assert_eq!(ingested.len(), 2, "{ingested:?}");
    assert_eq!(
        (ingested[0]["hookline_events_published_total"].as_u64(), ingested[1]["hookline_deliveries_pending_total"].as_u64()),
        (Some(1), Some(1))
    );
    let delivered = functions.deliver_function.metrics_log.documents();
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    let document = &delivered[0];
    assert_eq!(
        (document["hookline_attempts_total"].as_u64(), document["hookline_deliveries_succeeded_total"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(document["hookline_delivery_latency_seconds"].as_array().map(Vec::len), Some(1));
    assert!(document["hookline_oldest_task_age_seconds"].as_f64().is_some_and(|age| age < 60.0), "{document}");
    assert_eq!(document["_aws"]["CloudWatchMetrics"][0]["Dimensions"], serde_json::json!([["function"]]));
    assert_eq!(document["function"], "hookline-test-deliver", "the alarms select the deployed function's name");
    let (status, metrics) =
        functions.call("GET", "/api/v1/webhooks/metrics?bucket=1m&since=2000-01-01T00:00:00Z&until=2000-01-01T01:00:00Z", None).await;
    assert_eq!((status, metrics["totals"]["attempts"].as_u64()), (200, Some(0)), "{metrics}");
    // Attempts are counted from the table's stream (`ingest`, as its second mapping).
    functions.count_attempts().await;
    let (_, metrics) = functions.call("GET", "/api/v1/webhooks/metrics", None).await;
    assert_eq!(
        (metrics["totals"]["succeeded"].as_u64(), metrics["totals"]["delivery_latency"]["count"].as_u64()),
        (Some(1), Some(1)),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_503_is_retried_after_the_visibility_delay() {
    let functions = spawn_functions(3, "2,2").await;
    let receiver = TestReceiver::start().await;
    receiver.then(&[503]);
    let (webhook, _) = create_webhook(&functions, &receiver.url, &["ticket.*"]).await;
    publish(&functions, "ticket.created").await;

    assert_eq!(functions.poll().await, Poll { received: 1, failed: 1 }, "the failure is reported, not deleted");
    let failed_at = std::time::Instant::now();
    assert_eq!(deliveries_of(&functions, &webhook).await[0]["status"], "retrying");
    assert_eq!(functions.poll().await.received, 0, "the message waits out its backoff");
    assert_eq!(functions.poll_when_due(Duration::from_secs(5)).await, Poll { received: 1, failed: 0 });
    assert!(failed_at.elapsed() >= Duration::from_millis(1500), "visible again only after the 2 s (±20 %) backoff");
    let delivery = &deliveries_of(&functions, &webhook).await[0];
    assert_eq!((delivery["status"].as_str(), delivery["attempts"].as_u64()), (Some("succeeded"), Some(2)));
    assert_eq!(receiver.received().len(), 2);
}

#[tokio::test]
async fn the_last_failed_attempt_makes_the_delivery_dead_with_a_copy_in_the_dlq() {
    let functions = spawn_functions(2, "1").await;
    let receiver = TestReceiver::start().await;
    receiver.always(500);
    let (webhook, _) = create_webhook(&functions, &receiver.url, &["auth.failed"]).await;
    publish(&functions, "auth.failed").await;

    assert_eq!(functions.poll().await.failed, 1);
    let last = functions.poll_when_due(Duration::from_secs(5)).await;
    assert_eq!(last, Poll { received: 1, failed: 0 }, "the dead delivery's message leaves the queue");
    let delivery = &deliveries_of(&functions, &webhook).await[0];
    assert_eq!((delivery["status"].as_str(), delivery["attempts"].as_u64()), (Some("dead"), Some(2)));
    let dead = functions.dead_letters_with_reasons().await;
    assert_eq!(dead.len(), 1);
    assert!(dead[0].0.contains(delivery["id"].as_str().unwrap()), "{dead:?}");
    assert_eq!(dead[0].1, "dead");
}

#[tokio::test]
async fn a_poison_message_goes_to_the_dlq_at_once() {
    let functions = spawn_functions(3, "1").await;
    let sqs = &functions.emulator.sqs;
    sqs.send_message().queue_url(&functions.queues.queue_url).message_body("{\"not\": \"a task\"}").send().await.unwrap();
    assert_eq!(functions.poll().await, Poll { received: 1, failed: 0 });
    assert_eq!(functions.dead_letters_with_reasons().await, [("{\"not\": \"a task\"}".to_owned(), "undecodable".to_owned())]);
    assert_eq!(functions.visible_tasks().await, 0);
}

#[tokio::test]
async fn a_task_for_a_delivery_that_is_not_stored_goes_to_the_dlq_labelled() {
    let functions = spawn_functions(3, "1").await;
    let task = r#"{"delivery_id":"dlv_0123456789abcdef","webhook_id":"wh_gone","event_id":"evt_gone"}"#;
    let sqs = &functions.emulator.sqs;
    sqs.send_message().queue_url(&functions.queues.queue_url).message_body(task).send().await.unwrap();
    assert_eq!(functions.poll().await, Poll { received: 1, failed: 0 }, "not retried for ever");
    let dead = functions.dead_letters_with_reasons().await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(dead[0].0.contains("dlv_0123456789abcdef"), "{dead:?}");
    assert_eq!(dead[0].1, "unknown_delivery");
}

#[tokio::test]
async fn a_410_disables_the_webhook_and_holds_what_it_gets_next() {
    let functions = spawn_functions(3, "1").await;
    let receiver = TestReceiver::start().await;
    receiver.always(410);
    let (webhook, _) = create_webhook(&functions, &receiver.url, &["service.*"]).await;
    publish(&functions, "service.suspended").await;
    assert_eq!(functions.poll().await, Poll { received: 1, failed: 0 });
    let (status, got) = functions.call("GET", &format!("/api/v1/webhooks/{webhook}"), None).await;
    assert_eq!((status, got["is_active"].as_bool(), got["state"].as_str()), (200, Some(false), Some("disabled")), "{got}");
    assert_eq!(deliveries_of(&functions, &webhook).await[0]["status"], "dead");
    assert_eq!(publish(&functions, "service.activated").await["published"], 1);
    assert_eq!(functions.visible_tasks().await, 0, "a disabled webhook's new delivery is not queued");
    let statuses: Vec<String> =
        deliveries_of(&functions, &webhook).await.iter().map(|d| d["status"].as_str().unwrap().to_owned()).collect();
    assert_eq!(statuses, ["held", "dead"], "it is held, newest first");
}

#[tokio::test]
async fn one_failing_endpoint_does_not_hold_up_the_rest_of_the_batch() {
    let functions = spawn_functions(3, "30").await;
    let (slow_and_failing, healthy) = (TestReceiver::start().await, TestReceiver::start().await);
    slow_and_failing.always(500).delay_all(Duration::from_millis(300));
    let (failing_id, _) = create_webhook(&functions, &slow_and_failing.url, &["network.*"]).await;
    let (healthy_id, _) = create_webhook(&functions, &healthy.url, &["network.*"]).await;
    publish(&functions, "network.device.down").await;

    assert_eq!(functions.poll().await, Poll { received: 2, failed: 1 });
    assert_eq!(deliveries_of(&functions, &healthy_id).await[0]["status"], "succeeded");
    assert_eq!(deliveries_of(&functions, &failing_id).await[0]["status"], "retrying");
    assert_eq!(healthy.received().len(), 1);
}

#[tokio::test]
async fn the_functions_refuse_callers_without_credentials() {
    let functions = spawn_functions(3, "1").await;
    let mut anonymous = hookline_tests::functions::sample_event("api-list-webhooks", &[]);
    anonymous["headers"].as_object_mut().unwrap().remove("authorization");
    let (status, body) = functions.api(anonymous).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")));
    let mut no_key = hookline_tests::functions::sample_event("ingest-http-publish", &[]);
    no_key["headers"].as_object_mut().unwrap().remove("x-api-key");
    let answer = functions.ingest(no_key).await;
    assert_eq!(answer["statusCode"], 401, "{answer}");
    let forged = hookline_tests::functions::sample_event("ingest-http-publish", &[]);
    assert_eq!(functions.ingest(forged).await["statusCode"], 401, "an unknown API key is refused");
}

#[tokio::test]
async fn a_named_stage_is_served_with_or_without_its_name_in_the_path() {
    let functions = spawn_functions(3, "1").await;
    // A custom domain's API mapping leaves the stage out of rawPath; API Gateway's own URL has it.
    for raw_path in ["/api/v1/webhooks", "/prod/api/v1/webhooks"] {
        let mut request = hookline_tests::functions::sample_event("api-list-webhooks", &[]);
        request["rawPath"] = raw_path.into();
        request["requestContext"]["http"]["path"] = raw_path.into();
        request["requestContext"]["stage"] = "prod".into();
        let (status, body) = functions.api(request).await;
        assert_eq!(status, 200, "{raw_path}: {body}");
    }
    let mut health = hookline_tests::functions::sample_event("prod-stage/api-health", &[]);
    health["rawPath"] = "/prod/health".into();
    assert_eq!(functions.api(health).await.0, 200);
}

#[tokio::test]
async fn a_failed_ingest_invocation_names_its_error_type() {
    let functions = spawn_functions(3, "1").await;
    let unknown = hookline_lambda::ingest::handle(&functions.ingest_function, serde_json::json!({"hello": "world"})).await;
    let diagnostic = hookline_lambda::lambda_runtime::Diagnostic::from(unknown.unwrap_err());
    assert_eq!(diagnostic.error_type, "Hookline.UnknownSource");
    let mut refused = hookline_tests::functions::sample_event("ingest-sns", &[]);
    refused["Records"][0]["Sns"]["Message"] = "not json".into();
    let diagnostic = hookline_lambda::lambda_runtime::Diagnostic::from(
        hookline_lambda::ingest::handle(&functions.ingest_function, refused).await.unwrap_err(),
    );
    assert_eq!(diagnostic.error_type, "Hookline.NotPublished");
    assert!(diagnostic.error_message.contains("not JSON"), "{}", diagnostic.error_message);
}

/// The dashboard asked for as the bare stage (`/prod`) redirects to `prod/`, so its relative
/// URLs (scripts, the API) stay under the stage; `/prod/` is the page itself.
#[tokio::test]
async fn the_dashboard_on_a_bare_named_stage_redirects_under_it() {
    let functions = spawn_functions(3, "1").await;
    let mut event = hookline_tests::functions::sample_event("prod-stage/api-dashboard", &[]);
    let (status, page) = functions.api(event.clone()).await;
    assert!(status == 200 && page.as_str().is_some_and(|html| html.contains("ui/app.js")), "{status}: {page}");
    event["rawPath"] = serde_json::json!("/prod");
    event["requestContext"]["http"]["path"] = serde_json::json!("/prod");
    let request: aws_lambda_events::apigw::ApiGatewayV2httpRequest = serde_json::from_value(event).unwrap();
    let response = hookline_lambda::http::serve(functions.api_function.router(), request).await;
    assert_eq!(response.status_code, 308);
    assert_eq!(response.headers["location"], "prod/");
}
