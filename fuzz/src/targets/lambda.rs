//! What the Lambda functions take from their event sources: an input is the JSON event an
//! invocation receives. `ingest` reads it by its shape (API Gateway v2, SQS, SNS,
//! EventBridge, the table's stream); an HTTP request goes through API Gateway's conversion, the stage stripping and
//! the core's router (the API target's, with its oracle); queue and notification records become
//! publish requests and events, stream images events. `deliver` decodes each SQS body as a delivery task.

use aws_lambda_events::encodings::Body;
use hookline_core::adapters::aws::{decode_task, event_of_image};
use hookline_core::domain::event::Event;
use hookline_lambda::http as api_gateway;
use hookline_lambda::ingest::{Inbound, Invocation, queued};
use http::HeaderValue;
use serde_json::Value;

use super::api;

pub const DICTIONARY: &[&str] = &[
    "\"Records\"",
    "\"eventSource\"",
    "\"aws:sqs\"",
    "\"EventSource\"",
    "\"aws:sns\"",
    "\"aws:dynamodb\"",
    "\"dynamodb\"",
    "\"NewImage\"",
    "\"eventName\"",
    "\"INSERT\"",
    "\"PK\"",
    "\"EVT#\"",
    "{\"S\":",
    "{\"N\":",
    "{\"M\":",
    "{\"L\":",
    "\"Sns\"",
    "\"Message\"",
    "\"MessageId\"",
    "\"TopicArn\"",
    "\"body\"",
    "\"messageId\"",
    "\"receiptHandle\"",
    "\"attributes\"",
    "\"detail-type\"",
    "\"detail\"",
    "\"source\"",
    "\"time\"",
    "\"requestContext\"",
    "\"http\"",
    "\"method\"",
    "\"path\"",
    "\"stage\"",
    "\"$default\"",
    "\"prod\"",
    "\"rawPath\"",
    "\"rawQueryString\"",
    "\"headers\"",
    "\"isBase64Encoded\"",
    "\"routeKey\"",
    "\"version\"",
    "\"2.0\"",
    "\"/prod/api/v1/events\"",
    "\"/api/v1/webhooks\"",
    "\"delivery_id\"",
    "\"webhook_id\"",
    "\"event_id\"",
];

pub fn run(data: &[u8]) {
    let Ok(event) = serde_json::from_slice::<Value>(data) else { return };
    let Ok(invocation) = Invocation::parse(event) else { return };
    match invocation {
        Invocation::Http(mut request) => {
            for (name, value) in api::credentials() {
                if let (false, Ok(value)) = (request.headers.contains_key(name), HeaderValue::from_str(&value)) {
                    request.headers.insert(name, value);
                }
            }
            let line = format!("{:?} {:?}", request.request_context.http.method, request.raw_path);
            let fixture = api::fixture();
            let response = fixture.runtime.block_on(api_gateway::serve(fixture.router.clone(), *request));
            let body = match response.body {
                Some(Body::Text(text)) => serde_json::from_str(&text).unwrap_or(Value::Null),
                _ => Value::Null,
            };
            api::check(&line, (u16::try_from(response.status_code).unwrap_or(0), body));
        }
        Invocation::Queue(event) => {
            queued(&event).into_iter().for_each(publish);
            for record in &event.records {
                let _ = decode_task(record.body.as_deref().unwrap_or_default());
            }
        }
        Invocation::Notifications(items) => items.into_iter().for_each(publish),
        Invocation::Stream(event) => {
            for image in event.records.iter().filter_map(|record| record.dynamodb.new_image.as_ref()) {
                let _ = event_of_image(image);
            }
        }
    }
}

/// What `ingest` makes of one record before storing it.
fn publish(inbound: Inbound) {
    let (request, source) = inbound.parse();
    if let Ok(request) = request {
        let _ = Event::from_request(request, chrono::Utc::now(), &source);
    }
}
