//! The `ingest` function: events from API Gateway (`POST /api/v1/events` and `/batch`, through
//! the core's router with its API-key check), an EventBridge rule (`detail-type` is the event
//! type, `detail` the data), SNS and an inbound SQS queue (each message a publish request).
//! Every path ends in `Hookline::publish`: validated, deduplicated, stored, then fanned out by
//! the fifth source, the table's stream (`fan_out`), unless `HOOKLINE_FAN_OUT=inline`.
//!
//! Nothing is dropped: a bad HTTP request is a 4xx; a queue record that cannot be published is
//! a batch item failure (retried, then moved to the queue's DLQ by its redrive policy); an
//! EventBridge or SNS event that cannot be published fails the invocation, which Lambda retries
//! and then sends to the function's on-failure destination.

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sns::{SnsEvent, SnsRecord};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use hookline_core::domain::Invalid;
use hookline_core::domain::event::PublishRequest;
use hookline_core::domain::json::from_value;
use hookline_core::service::{PublishAs, PublishOutcome, ServiceError};
use serde_json::{Value, json};

use crate::batch::batch_response;
use crate::http;
use crate::wiring::Function;

/// Where an invocation came from, told by the event's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Http,
    Sqs,
    Sns,
    EventBridge,
    /// The table's DynamoDB stream: events recorded, to fan out.
    Stream,
}

impl Source {
    pub fn of(event: &Value) -> Option<Self> {
        let first_record = event.get("Records").and_then(|records| records.get(0));
        let record_source = |key: &str| first_record.and_then(|r| r.get(key)).and_then(Value::as_str);
        if event.pointer("/requestContext/http").is_some() {
            Some(Self::Http)
        } else if record_source("eventSource") == Some("aws:sqs") {
            Some(Self::Sqs)
        } else if record_source("eventSource") == Some("aws:dynamodb") {
            Some(Self::Stream)
        } else if record_source("EventSource") == Some("aws:sns") {
            Some(Self::Sns)
        } else if event.get("detail-type").is_some() && event.get("detail").is_some() {
            Some(Self::EventBridge)
        } else {
            None
        }
    }
}

/// Why an invocation failed (Lambda then retries it, and finally hands it to the on-failure
/// destination); its variant is the `errorType` Lambda reports.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the event is from no source this function knows (API Gateway v2, SQS, SNS, EventBridge, DynamoDB stream)")]
    UnknownSource,
    #[error("the {0:?} event does not have the expected shape: {1}")]
    Malformed(Source, serde_json::Error),
    #[error("{failed} of {total} events could not be published: {first}")]
    NotPublished { failed: usize, total: usize, first: String },
    #[error("recorded events could not be fanned out: {0}")]
    NotFannedOut(String),
    #[error("the answer could not be encoded: {0}")]
    Answer(serde_json::Error),
}

impl IngestError {
    /// The `errorType` of the failed invocation, as Lambda and its destinations report it.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::UnknownSource => "Hookline.UnknownSource",
            Self::Malformed(..) => "Hookline.MalformedEvent",
            Self::NotPublished { .. } => "Hookline.NotPublished",
            Self::NotFannedOut(_) => "Hookline.NotFannedOut",
            Self::Answer(_) => "Hookline.Internal",
        }
    }
}

impl From<IngestError> for lambda_runtime::Diagnostic {
    fn from(error: IngestError) -> Self {
        Self { error_type: error.error_type().to_owned(), error_message: error.to_string() }
    }
}

/// Handles one invocation; the answer is what the source expects back.
pub async fn handle(function: &Function, event: Value) -> Result<Value, IngestError> {
    let answer = ingest(function, event).await;
    crate::emf::emit(&function.metrics_log, &function.name, &function.hookline.tally.take(), None);
    answer
}

async fn ingest(function: &Function, event: Value) -> Result<Value, IngestError> {
    let answer = match Invocation::parse(event)? {
        Invocation::Http(request) => serde_json::to_value(http::serve(function.router(), *request).await).map_err(IngestError::Answer)?,
        Invocation::Queue(event) => serde_json::to_value(from_queue(function, event).await).map_err(IngestError::Answer)?,
        Invocation::Notifications(items) => summary(publish_all(function, items).await)?,
        Invocation::Stream(event) => crate::fan_out::from_stream(function, event).await?,
    };
    Ok(answer)
}

/// An invocation's event, read by its source's shape: everything `ingest` takes from the
/// network before it publishes.
pub enum Invocation {
    /// An API Gateway request, for the core's router.
    Http(Box<ApiGatewayV2httpRequest>),
    /// Inbound queue messages, each a publish request; failures are reported per message.
    Queue(SqsEvent),
    /// SNS or EventBridge: the publish requests they carry (the invocation fails as a whole).
    Notifications(Vec<Inbound>),
    /// The table's stream: recorded events to fan out (the invocation fails as a whole).
    Stream(crate::fan_out::StreamEvent),
}

impl Invocation {
    pub fn parse(event: Value) -> Result<Self, IngestError> {
        let source = Source::of(&event).ok_or(IngestError::UnknownSource)?;
        let malformed = |error| IngestError::Malformed(source, error);
        Ok(match source {
            Source::Http => Self::Http(Box::new(serde_json::from_value(event).map_err(malformed)?)),
            Source::Sqs => Self::Queue(serde_json::from_value(event).map_err(malformed)?),
            Source::Sns => {
                let event: SnsEvent = serde_json::from_value(event).map_err(malformed)?;
                Self::Notifications(event.records.into_iter().map(Inbound::from_sns).collect())
            }
            Source::EventBridge => {
                let event: EventBridgeEvent = serde_json::from_value(event).map_err(malformed)?;
                Self::Notifications(vec![Inbound::from_eventbridge(event)])
            }
            Source::Stream => Self::Stream(serde_json::from_value(event).map_err(malformed)?),
        })
    }
}

/// Each message is a publish request; the ones that fail are reported for the queue to retry.
async fn from_queue(function: &Function, event: SqsEvent) -> SqsBatchResponse {
    let results = publish_all(function, queued(&event)).await;
    let published = event.records.iter().zip(results).map(|(record, result)| match result {
        Ok(_) => true,
        Err(error) => {
            tracing::warn!(message_id = record.message_id.as_deref().unwrap_or_default(), %error, "queued event not published");
            false
        }
    });
    batch_response(&event.records, published.collect())
}

/// The publish requests of an inbound queue's messages, in order.
pub fn queued(event: &SqsEvent) -> Vec<Inbound> {
    let inbound = |record: &SqsMessage| Inbound {
        request: parse_json(record.body.as_deref().unwrap_or_default()),
        message_id: record.message_id.clone(),
        source: "sqs".to_owned(),
    };
    event.records.iter().map(inbound).collect()
}

/// One publish request as a source hands it over.
pub struct Inbound {
    /// The request's JSON, or why the message is not JSON.
    request: Result<Value, String>,
    /// The source's id for the message: the event's id when the request has none, so a
    /// redelivered message is recognised as a duplicate.
    message_id: Option<String>,
    /// `metadata.source` unless the request says otherwise.
    source: String,
}

impl Inbound {
    fn from_sns(record: SnsRecord) -> Self {
        Self {
            request: parse_json(&record.sns.message),
            message_id: Some(record.sns.message_id),
            source: sns_source(&record.sns.topic_arn),
        }
    }

    fn from_eventbridge(event: EventBridgeEvent) -> Self {
        let request = json!({
            "event_type": event.detail_type,
            "data": event.detail,
            "timestamp": event.time.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        });
        Self { request: Ok(request), message_id: event.id, source: format!("eventbridge:{}", event.source) }
    }

    /// The publish request (or why there is none), and the source it came from.
    pub fn parse(self) -> (Result<PublishRequest, ServiceError>, String) {
        let message_id = self.message_id;
        let request = self.request.map_err(|reason| ServiceError::Invalid(Invalid::new("message", reason))).and_then(|value| {
            let mut request = from_value::<PublishRequest>(value)?;
            if request.id.is_none() {
                request.id = message_id.map(|id| format!("evt_{id}"));
            }
            Ok(request)
        });
        (request, self.source)
    }
}

/// Publishes the requests together (their delivery tasks go out in shared `SendMessageBatch`
/// calls), answering for each in order.
async fn publish_all(function: &Function, items: Vec<Inbound>) -> Vec<Result<PublishOutcome, String>> {
    let (requests, sources): (Vec<_>, Vec<_>) = items.into_iter().map(Inbound::parse).unzip();
    let requests =
        requests.into_iter().zip(&sources).map(|(request, source)| (request, PublishAs { source, key: None, trace: None })).collect();
    function.hookline.publish_each(requests).await.into_iter().map(|result| result.map_err(|error| describe(&error))).collect()
}

fn describe(error: &ServiceError) -> String {
    match error {
        ServiceError::Store(_) | ServiceError::Queue(_) => format!("storage unavailable: {error}"),
        other => other.to_string(),
    }
}

fn parse_json(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|error| format!("the message is not JSON: {error}"))
}

fn sns_source(topic_arn: &str) -> String {
    format!("sns:{}", topic_arn.rsplit(':').next().unwrap_or(topic_arn))
}

/// `{published, duplicates}`, or the failure that makes the invocation be retried.
fn summary(results: Vec<Result<PublishOutcome, String>>) -> Result<Value, IngestError> {
    let total = results.len();
    let failures: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    if let Some(first) = failures.first() {
        return Err(IngestError::NotPublished { failed: failures.len(), total, first: (*first).clone() });
    }
    let duplicates = results.iter().filter(|r| r.as_ref().is_ok_and(|o| o.duplicate)).count();
    Ok(json!({"published": total - duplicates, "duplicates": duplicates}))
}
