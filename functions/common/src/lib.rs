//! What Hookline's Lambda functions share: their settings from the environment (`config`),
//! the adapters wired over DynamoDB and SQS once per cold start (`wiring`), and the handlers
//! (`ingest`, `deliver`; the `api` function serves the core's router through `lambda_http`).
//! Each function's `main.rs` only calls one `run_*` here, so tests drive the same handlers.

pub mod config;
pub mod deliver;
pub mod http;
pub mod ingest;
pub mod wiring;

pub use config::FunctionArgs;
pub use lambda_runtime;
pub use wiring::{Function, wire, wire_with_clients};

/// JSON logs, as CloudWatch Logs Insights reads them; the level from `HOOKLINE_LOG` (`info`).
pub fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().json().with_env_filter(filter).with_current_span(false).without_time().init();
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
    lambda_http::run(function.router()).await
}

/// The `ingest` function: HTTP publishing, EventBridge, SNS and an inbound SQS queue.
pub async fn run_ingest() -> Result<(), lambda_runtime::Error> {
    let function = std::sync::Arc::new(cold_start().await?);
    lambda_runtime::run(lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<serde_json::Value>| {
        let function = function.clone();
        async move { ingest::handle(&function, event.payload).await }
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
