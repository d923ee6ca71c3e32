//! The `maintain` Lambda function: wiring only; the handler is `hookline_lambda::run_maintain`.

#[tokio::main]
async fn main() -> Result<(), hookline_lambda::lambda_runtime::Error> {
    hookline_lambda::run_maintain().await
}
