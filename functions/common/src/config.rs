//! The functions' settings: environment variables only (`template.yaml` sets them), the same
//! `HOOKLINE_*` names as the local binary plus where the table and queues are.

use clap::Parser;
use hookline_core::tuning::Tuning;

#[derive(Parser, Debug, Clone)]
#[command(name = "hookline-function", about = "Hookline's Lambda functions read these from the environment.")]
pub struct FunctionArgs {
    /// The DynamoDB table holding webhooks, events, deliveries, API keys and the audit trail.
    #[arg(long, env = "HOOKLINE_TABLE")]
    pub table: String,
    /// The delivery queue.
    #[arg(long, env = "HOOKLINE_QUEUE_URL")]
    pub queue_url: String,
    /// The delivery queue's dead-letter queue (dead deliveries and undecodable tasks go there).
    #[arg(long, env = "HOOKLINE_DLQ_URL", default_value = "")]
    pub dlq_url: String,
    /// Another endpoint for DynamoDB and SQS (an emulator such as moto); AWS's otherwise.
    #[arg(long, env = "HOOKLINE_AWS_ENDPOINT")]
    pub aws_endpoint: Option<String>,
    /// The HS256 key (base64, at least 32 bytes) for management tokens when no JWKS is set.
    #[arg(long, env = "HOOKLINE_AUTH_KEY", hide_env_values = true)]
    pub auth_key: Option<String>,
    /// Log filter, e.g. `info` or `hookline_core=debug`.
    #[arg(long, env = "HOOKLINE_LOG", default_value = "info")]
    pub log: String,
    /// The deployed function's name, set by Lambda: the `function` dimension of its metrics.
    #[arg(long, env = "AWS_LAMBDA_FUNCTION_NAME")]
    pub function_name: Option<String>,
    #[command(flatten)]
    pub tuning: Tuning,
}

impl FunctionArgs {
    /// The settings from the environment alone.
    pub fn from_env() -> Result<Self, clap::Error> {
        Self::try_parse_from(["hookline-function"])
    }
}
