//! A fault layer for the SDK clients: what AWS does and moto never does. Put in front of a
//! function's DynamoDB and SQS clients as their HTTP client, it fails a share of calls the way
//! AWS fails them: throttled (never applied), a 500 (never applied), or applied with the answer
//! lost (the caller sees a 500 and the SDK retries a call that already took effect); and it can
//! kill the invocation at the worst moment, when `deliver` records an attempt it has already
//! sent: the call never answers and `killed` fires, so the harness drops the invocation as
//! Lambda does at its timeout.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use aws_sdk_dynamodb::config::{HttpClient, RuntimeComponents, SharedHttpClient};
use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use rand::Rng;
use tokio::sync::Notify;

/// How often each fault happens, as a share of calls (0.0 to 1.0).
#[derive(Debug, Clone, Copy, Default)]
pub struct FaultPlan {
    pub throttled: f64,
    pub server_error: f64,
    pub answer_lost: f64,
    /// Of `deliver`'s attempt records (the `UpdateItem` that appends to a delivery's log, or
    /// the `PutItem` that stores a delivery with its first attempt).
    pub kill_before_record: f64,
    /// The first calls through the layer are all throttled.
    pub throttle_first: u64,
    /// Kills the invocation at the first call of this operation (`PutItem`, `SendMessageBatch`, …).
    pub kill_at: Option<&'static str>,
}

/// What the layer did, over every client it is in.
#[derive(Debug, Default)]
pub struct FaultCounts {
    pub calls: AtomicU64,
    pub throttled: AtomicU64,
    pub server_errors: AtomicU64,
    pub answers_lost: AtomicU64,
    pub kills: AtomicU64,
}

impl FaultCounts {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// One function instance's layer: its plan, the shared counts, and its kill signal.
#[derive(Debug, Clone)]
pub struct FaultLayer {
    plan: FaultPlan,
    counts: Arc<FaultCounts>,
    killed: Arc<Notify>,
    /// Whether `kill_at` has killed already.
    killed_at: Arc<AtomicBool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    Throttled,
    ServerError,
    AnswerLost,
    Kill,
}

impl FaultLayer {
    pub fn new(plan: FaultPlan, counts: Arc<FaultCounts>) -> Self {
        Self { plan, counts, killed: Arc::new(Notify::new()), killed_at: Arc::new(AtomicBool::new(false)) }
    }

    /// Resolves when a call of this instance killed its invocation.
    pub async fn killed(&self) {
        self.killed.notified().await;
    }

    /// The client a configuration names (a plain HTTP one, which the emulator speaks, when it
    /// leaves the choice to the SDK) with this layer in front.
    pub fn wrap(&self, configured: Option<SharedHttpClient>) -> SharedHttpClient {
        let inner = configured.unwrap_or_else(|| aws_smithy_http_client::Builder::new().build_http());
        SharedHttpClient::new(FaultyClient { inner, layer: self.clone() })
    }

    fn draw(&self, request: &HttpRequest) -> Fault {
        let number = self.counts.calls.fetch_add(1, Ordering::Relaxed) + 1;
        let mut rng = rand::rng();
        let mut roll = |share: f64| share > 0.0 && rng.random_bool(share.min(1.0));
        let planned_kill = number > self.plan.throttle_first
            && self.plan.kill_at.is_some_and(|operation| is_operation(request, operation))
            && !self.killed_at.swap(true, Ordering::Relaxed);
        let fault = if number <= self.plan.throttle_first {
            Fault::Throttled
        } else if planned_kill || (is_attempt_record(request) && roll(self.plan.kill_before_record)) {
            Fault::Kill
        } else if roll(self.plan.throttled) {
            Fault::Throttled
        } else if roll(self.plan.server_error) {
            Fault::ServerError
        } else if roll(self.plan.answer_lost) {
            Fault::AnswerLost
        } else {
            Fault::None
        };
        let counter = match fault {
            Fault::None => return fault,
            Fault::Throttled => &self.counts.throttled,
            Fault::ServerError => &self.counts.server_errors,
            Fault::AnswerLost => &self.counts.answers_lost,
            Fault::Kill => &self.counts.kills,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        fault
    }
}

/// Whether `request` calls `operation` (DynamoDB and SQS name it in `x-amz-target`).
fn is_operation(request: &HttpRequest, operation: &str) -> bool {
    request.headers().get("x-amz-target").unwrap_or_default().rsplit('.').next() == Some(operation)
}

/// The `UpdateItem` that records an attempt: it appends to the delivery's `log`.
fn is_attempt_record(request: &HttpRequest) -> bool {
    let body = String::from_utf8_lossy(request.body().bytes().unwrap_or_default());
    (is_operation(request, "UpdateItem") && body.contains("list_append(if_not_exists(#log"))
        || (is_operation(request, "PutItem") && body.contains(r#""log":{"L":[{"#))
}

/// An error answer in the JSON protocols DynamoDB and SQS speak.
fn error_answer(status: u16, code: &str) -> Response<SdkBody> {
    let body = format!(r#"{{"__type":"{code}","message":"injected by the fault layer"}}"#);
    let mut response =
        Response::new(StatusCode::try_from(status).unwrap_or_else(|_| StatusCode::try_from(500).unwrap()), SdkBody::from(body));
    response.headers_mut().insert("content-type", "application/x-amz-json-1.0");
    response.headers_mut().insert("x-amzn-query-error", format!("{code};Sender"));
    response
}

#[derive(Debug)]
struct FaultyClient {
    inner: SharedHttpClient,
    layer: FaultLayer,
}

impl HttpClient for FaultyClient {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(FaultyConnector { inner: self.inner.http_connector(settings, components), layer: self.layer.clone() })
    }
}

#[derive(Debug)]
struct FaultyConnector {
    inner: SharedHttpConnector,
    layer: FaultLayer,
}

impl HttpConnector for FaultyConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        match self.layer.draw(&request) {
            Fault::None => self.inner.call(request),
            Fault::Throttled => HttpConnectorFuture::ready(Ok(error_answer(400, "ThrottlingException"))),
            Fault::ServerError => HttpConnectorFuture::ready(Ok(error_answer(500, "InternalServerError"))),
            Fault::AnswerLost => {
                let applied = self.inner.call(request);
                HttpConnectorFuture::new(async move {
                    let _ = applied.await;
                    Ok(error_answer(500, "InternalServerError"))
                })
            }
            Fault::Kill => {
                self.layer.killed.notify_one();
                HttpConnectorFuture::new(std::future::pending())
            }
        }
    }
}
