//! `hookline token`: a management token signed with the local key of a data file.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use hookline_core::adapters::jwt::{JwtKeys, mint_hs256};
use hookline_core::domain::access::Role;

use crate::cli::AuthArgs;

#[derive(Args, Debug, Clone)]
pub struct TokenArgs {
    /// The data file whose server will accept the token.
    #[arg(long, env = "HOOKLINE_DATA", default_value = "./hookline.db")]
    pub data: PathBuf,
    /// webhooks:read, webhooks:write or webhooks:admin; repeatable.
    #[arg(long = "role", required = true)]
    pub roles: Vec<String>,
    /// Who the token speaks for (its `sub`, named in the audit trail).
    #[arg(long)]
    pub sub: String,
    /// How long the token is valid: 90s, 30m, 1h, 7d.
    #[arg(long, default_value = "1h")]
    pub ttl: String,
    #[command(flatten)]
    pub auth: AuthArgs,
}

/// Prints a token on standard output, alone, so scripts can capture it.
pub fn run(args: &TokenArgs) -> anyhow::Result<()> {
    let auth = args.auth.to_config();
    if auth.jwks_file.is_some() || auth.jwks_url.is_some() {
        anyhow::bail!("tokens for a JWKS deployment come from its identity provider, not from hookline token");
    }
    let roles = args
        .roles
        .iter()
        .map(|raw| Role::parse(raw).ok_or_else(|| anyhow::anyhow!("unknown role '{raw}' (webhooks:read, webhooks:write, webhooks:admin)")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let ttl = parse_ttl(&args.ttl)?;
    let settings = crate::key_files::jwt_settings(&auth, &args.data, false)?;
    let JwtKeys::Hs256(secret) = &settings.keys else { anyhow::bail!("hookline token signs only with the local HS256 key") };
    let token = mint_hs256(secret, &settings, &args.sub, &roles, ttl)?;
    writeln!(std::io::stdout(), "{token}").map_err(|e| anyhow::anyhow!("writing the token: {e}"))?;
    Ok(())
}

/// `90s`, `30m`, `1h`, `7d`.
fn parse_ttl(raw: &str) -> anyhow::Result<Duration> {
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let number: u64 = number.parse().map_err(|_| anyhow::anyhow!("--ttl '{raw}': expected a number and a unit, as in 1h"))?;
    let seconds = match unit {
        "s" | "" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => anyhow::bail!("--ttl '{raw}': the unit must be s, m, h or d"),
    };
    Ok(Duration::from_secs(number.saturating_mul(seconds)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_take_a_number_and_a_unit() {
        assert_eq!(parse_ttl("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_ttl("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_ttl("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_ttl("7d").unwrap(), Duration::from_secs(604_800));
        assert!(parse_ttl("1w").is_err());
        assert!(parse_ttl("h").is_err());
    }
}
