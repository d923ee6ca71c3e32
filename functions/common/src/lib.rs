//! What Hookline's Lambda functions share: their settings from the environment (`config`),
//! the adapters wired over DynamoDB and SQS once per cold start (`wiring`), and the handlers
//! (`ingest` with `fan_out`, `deliver`, `maintain`; the `api` function serves the core's router through `http`).
//! Each function's `main.rs` only calls one `run_*` here, so tests drive the same handlers.

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;

mod batch;
pub mod config;
pub mod deliver;
pub mod emf;
pub mod fan_out;
pub mod http;
pub mod ingest;
pub mod maintain;
pub mod wiring;

pub use config::FunctionArgs;
pub use lambda_runtime;
pub use wiring::{Function, wire, wire_with_clients};

/// The runtime logs every handler error under its panic layer's target, as if something had
/// panicked; Hookline logs its failures itself, and a real panic through `log_panics`.
const RUNTIME_PANIC_LAYER: &str = "lambda_runtime::layers::panic=off";

/// JSON logs, as CloudWatch Logs Insights reads them; the level from `HOOKLINE_LOG` (`info`).
pub fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let filter = match RUNTIME_PANIC_LAYER.parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    };
    tracing_subscriber::fmt().json().with_env_filter(filter).with_current_span(false).without_time().init();
    log_panics();
}

/// Panics (there should be none: release builds abort on them) are logged as errors first.
fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        tracing::error!(target: "hookline::panic", panic = %info, %location, "the function panicked");
    }));
}

/// Reads the settings, wires the adapters and logs why when either fails.
pub async fn cold_start() -> Result<Function, lambda_runtime::Error> {
    let args = FunctionArgs::from_env()?;
    init_logging(&args.log);
    let sdk = hookline_core::adapters::aws::sdk_config(args.aws_endpoint.as_deref()).await;
    match wire(&args, &sdk, std::sync::Arc::new(hookline_core::adapters::resolver::SystemResolver)).await {
        Ok(function) => Ok(function),
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "cold start failed");
            Err(error.into())
        }
    }
}

/// The `api` function: the management API behind API Gateway (HTTP API, payload v2).
pub async fn run_api() -> Result<(), lambda_runtime::Error> {
    let function = cold_start().await?;
    let router = function.router();
    lambda_runtime::run(lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<ApiGatewayV2httpRequest>| {
        let router = router.clone();
        async move { Ok::<_, std::convert::Infallible>(http::serve(router, event.payload).await) }
    }))
    .await
}

/// The `ingest` function: HTTP publishing, EventBridge, SNS, an inbound SQS queue, and the
/// table's stream (fanning out what was recorded).
pub async fn run_ingest() -> Result<(), lambda_runtime::Error> {
    let function = std::sync::Arc::new(cold_start().await?);
    lambda_runtime::run(lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<serde_json::Value>| {
        let function = function.clone();
        async move {
            let answer = ingest::handle(&function, event.payload).await;
            if let Err(error) = &answer {
                tracing::error!(error_type = error.error_type(), %error, "ingest invocation failed; Lambda retries it");
            }
            answer
        }
    }))
    .await
}

/// The `deliver` function: the delivery queue's consumer.
pub async fn run_deliver() -> Result<(), lambda_runtime::Error> {
    let function = std::sync::Arc::new(cold_start().await?);
    lambda_runtime::run(lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<aws_lambda_events::event::sqs::SqsEvent>| {
        let function = function.clone();
        async move { Ok::<_, lambda_runtime::Error>(deliver::handle(&function, event.payload).await) }
    }))
    .await
}

/// The `maintain` function: the endpoint-health pass, on a schedule.
pub async fn run_maintain() -> Result<(), lambda_runtime::Error> {
    let function = std::sync::Arc::new(cold_start().await?);
    lambda_runtime::run(lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<serde_json::Value>| {
        let function = function.clone();
        async move {
            let answer = maintain::handle(&function, event.payload).await;
            if let Err(error) = &answer {
                tracing::error!(%error, "maintain invocation failed; the next scheduled one runs again");
            }
            answer
        }
    }))
    .await
}
