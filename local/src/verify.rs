//! `hookline verify`: tells whether a captured request is a genuine Hookline delivery for a
//! secret, and if not, why (`domain::verification`).

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use hookline_core::domain::secret::SigningSecret;
use hookline_core::domain::verification::{Captured, DEFAULT_TOLERANCE_SECS, check};

#[derive(Args, Debug, Clone)]
pub struct VerifyArgs {
    /// The webhook's secret: `whsec_…`, or the plain text it was created with.
    #[arg(long, env = "HOOKLINE_WEBHOOK_SECRET", hide_env_values = true)]
    pub secret: String,
    /// The `webhook-id` header.
    #[arg(long)]
    pub id: Option<String>,
    /// The `webhook-timestamp` header.
    #[arg(long)]
    pub timestamp: Option<String>,
    /// The `webhook-signature` header.
    #[arg(long)]
    pub signature: Option<String>,
    /// Captured headers, one `name: value` per line (as `curl -D` or a receiver's log writes
    /// them); `--id`, `--timestamp` and `--signature` take precedence.
    #[arg(long)]
    pub headers: Option<PathBuf>,
    /// The body exactly as received (not re-serialised, no added newline); standard input when
    /// absent.
    #[arg(long)]
    pub body: Option<PathBuf>,
    /// How far the timestamp may be from now, in seconds.
    #[arg(long, default_value_t = DEFAULT_TOLERANCE_SECS)]
    pub tolerance_secs: i64,
    /// Check as of this Unix time instead of now (for an old capture).
    #[arg(long)]
    pub now: Option<i64>,
}

/// Prints why the request is genuine, or fails with why it is not.
pub fn run(args: &VerifyArgs) -> anyhow::Result<()> {
    let secret = SigningSecret::parse(&args.secret).map_err(|invalid| anyhow::anyhow!("the secret is not usable: {}", invalid.detail))?;
    let captured = match &args.headers {
        Some(path) => parse_headers(&std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?),
        None => HashMap::new(),
    };
    let header = |flag: &Option<String>, name: &str| flag.clone().or_else(|| captured.get(name).cloned());
    let (id, timestamp, signature) =
        (header(&args.id, "webhook-id"), header(&args.timestamp, "webhook-timestamp"), header(&args.signature, "webhook-signature"));
    let body = match &args.body {
        Some(path) => std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?,
        None => {
            let mut body = Vec::new();
            std::io::stdin().read_to_end(&mut body).context("cannot read the body from standard input")?;
            body
        }
    };
    let request = Captured { id: id.as_deref(), timestamp: timestamp.as_deref(), signature: signature.as_deref(), body: &body };
    let now = args.now.unwrap_or_else(|| chrono::Utc::now().timestamp());
    match check(&secret, &request, now, args.tolerance_secs) {
        Ok(genuine) => {
            println!("genuine: signature entry {} matches; sent {} s before the check", genuine.entry, genuine.age_secs);
            Ok(())
        }
        Err(refusal) => anyhow::bail!("not genuine: {refusal}"),
    }
}

/// `name: value` lines, names lower-cased; other lines (an HTTP status line) are skipped.
fn parse_headers(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captured_headers_are_read_whatever_their_case() {
        let headers = parse_headers("HTTP/1.1 200 OK\r\nWebhook-Id: msg_1\r\nwebhook-signature: v1,a v1,b\r\n");
        assert_eq!(headers.get("webhook-id").map(String::as_str), Some("msg_1"));
        assert_eq!(headers.get("webhook-signature").map(String::as_str), Some("v1,a v1,b"));
    }
}
