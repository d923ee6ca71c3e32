//! The list prices the benchmark's bill uses, in one place: on-demand, us-east-1, as AWS
//! published them when `docs/capacity.md` was written (which cites the same figures); check the
//! pricing pages for your region.

/// DynamoDB on demand, per write and read unit.
pub const DYNAMODB_WRITE_UNIT: f64 = 0.625e-6;
pub const DYNAMODB_READ_UNIT: f64 = 0.125e-6;
/// SQS standard, per request (each 64 KB chunk; ours are one).
pub const SQS_REQUEST: f64 = 0.40e-6;
/// Lambda arm64, per invocation and per GB-second.
pub const LAMBDA_INVOCATION: f64 = 0.20e-6;
pub const LAMBDA_GB_SECOND: f64 = 0.000_013_333_4;
/// API Gateway HTTP API, per request.
pub const HTTP_API_REQUEST: f64 = 1.00e-6;

/// The functions' memory (`template.yaml`'s `MemorySize`), in GB.
pub const FUNCTION_GB: f64 = 0.25;
/// What an invocation takes besides waiting on receivers: `deliver` waits on a batch's slowest
/// receiver (its records run concurrently) plus this; an `ingest` invocation takes this.
pub const INVOCATION_OVERHEAD_SECONDS: f64 = 0.030;
