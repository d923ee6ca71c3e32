//! `hookline check-receiver`: sends a receiver one genuine signed request and the requests it
//! must refuse (forged and missing signatures, an altered body, stale and future timestamps),
//! plus a rotation's two signatures and a replay, and prints what it answered to each beside
//! what a correct receiver does. Fails when the receiver accepts a forgery or refuses a genuine
//! request. Goes out through the server's own sender, so private addresses are refused unless
//! `--allow-net` names them.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use hookline_core::adapters::http_sender::{HyperSender, SenderConfig};
use hookline_core::adapters::resolver::SystemResolver;
use hookline_core::domain::event::Event;
use hookline_core::domain::net_policy::NetPolicy;
use hookline_core::domain::secret::SigningSecret;
use hookline_core::domain::signing::sign;
use hookline_core::ports::{OutboundRequest, WebhookSender};
use ipnet::IpNet;

/// How far off the stale and future probes' timestamps are: twice the usual tolerance.
const SKEW_SECS: i64 = 600;

#[derive(Args, Debug, Clone)]
pub struct CheckReceiverArgs {
    /// The receiver's URL.
    pub url: String,
    /// The secret the receiver verifies with: `whsec_…`, or the plain text it was given.
    #[arg(long, env = "HOOKLINE_WEBHOOK_SECRET", hide_env_values = true)]
    pub secret: String,
    /// Accept a plain http:// URL.
    #[arg(long)]
    pub allow_http: bool,
    /// A network (CIDR) that may be checked although private; repeatable, e.g. 127.0.0.0/8.
    #[arg(long = "allow-net", value_delimiter = ',')]
    pub allow_net: Vec<IpNet>,
    /// Seconds to wait for each answer.
    #[arg(long, default_value_t = 10)]
    pub timeout_secs: u64,
}

/// What a correct receiver does with a probe.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    Accept,
    Refuse,
    /// Either answer can be right (a replay: a 2xx is fine if it does not process it twice).
    Either,
}

struct Probe {
    name: &'static str,
    expect: Expect,
    request: OutboundRequest,
}

/// A probe's request: a test event's body with the three headers, or none when `signature` is.
fn request(url: &str, id: &str, timestamp: i64, body: &str, signature: Option<String>) -> OutboundRequest {
    let mut headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("user-agent".to_owned(), format!("Hookline/{} check-receiver", env!("CARGO_PKG_VERSION"))),
    ];
    if let Some(signature) = signature {
        headers.push(("webhook-id".to_owned(), id.to_owned()));
        headers.push(("webhook-timestamp".to_owned(), timestamp.to_string()));
        headers.push(("webhook-signature".to_owned(), signature));
    }
    OutboundRequest { url: url.to_owned(), headers, body: body.to_owned() }
}

fn probes(url: &str, secret: &SigningSecret) -> Vec<Probe> {
    let now = chrono::Utc::now();
    let at = now.timestamp();
    let event = Event::test_ping("check-receiver", now);
    let (id, body) = (event.id.to_string(), event.body);
    let fresh = || {
        let event = Event::test_ping("check-receiver", now);
        (event.id.to_string(), event.body)
    };
    let signed = |id: &str, timestamp: i64, body: &str| Some(sign(secret, id, timestamp, body.as_bytes()));
    let stranger = SigningSecret::generate();
    let mut probes =
        vec![Probe { name: "a genuine request", expect: Expect::Accept, request: request(url, &id, at, &body, signed(&id, at, &body)) }];
    let (rid, rbody) = fresh();
    let rotation = format!("{} {}", sign(&stranger, &rid, at, rbody.as_bytes()), sign(secret, &rid, at, rbody.as_bytes()));
    probes.push(Probe {
        name: "a rotation: another secret's signature, then yours",
        expect: Expect::Accept,
        request: request(url, &rid, at, &rbody, Some(rotation)),
    });
    let (fid, fbody) = fresh();
    let forged = sign(&stranger, &fid, at, fbody.as_bytes());
    probes.push(Probe {
        name: "a forged signature (another secret)",
        expect: Expect::Refuse,
        request: request(url, &fid, at, &fbody, Some(forged)),
    });
    let (aid, abody) = fresh();
    let altered = abody.replace("This is a test event", "This is an altered event");
    probes.push(Probe {
        name: "the body altered after signing",
        expect: Expect::Refuse,
        request: request(url, &aid, at, &altered, signed(&aid, at, &abody)),
    });
    let (sid, sbody) = fresh();
    probes.push(Probe {
        name: "a stale timestamp (10 min old), correctly signed",
        expect: Expect::Refuse,
        request: request(url, &sid, at - SKEW_SECS, &sbody, signed(&sid, at - SKEW_SECS, &sbody)),
    });
    let (uid, ubody) = fresh();
    probes.push(Probe {
        name: "a timestamp 10 min ahead, correctly signed",
        expect: Expect::Refuse,
        request: request(url, &uid, at + SKEW_SECS, &ubody, signed(&uid, at + SKEW_SECS, &ubody)),
    });
    let (nid, nbody) = fresh();
    probes.push(Probe {
        name: "no webhook-id, timestamp or signature",
        expect: Expect::Refuse,
        request: request(url, &nid, at, &nbody, None),
    });
    probes.push(Probe {
        name: "the genuine request again (same webhook-id)",
        expect: Expect::Either,
        request: request(url, &id, at, &body, signed(&id, at, &body)),
    });
    probes
}

/// Sends every probe in order and prints the table; fails when the receiver is unsafe or broken.
pub async fn run(args: &CheckReceiverArgs) -> anyhow::Result<()> {
    let secret = SigningSecret::parse(&args.secret).map_err(|invalid| anyhow::anyhow!("the secret is not usable: {}", invalid.detail))?;
    let url = reqwest::Url::parse(&args.url).map_err(|error| anyhow::anyhow!("'{}' is not a URL: {error}", args.url))?;
    match url.scheme() {
        "https" => {}
        "http" if args.allow_http => {}
        scheme => anyhow::bail!("the URL's scheme is {scheme}: receivers are checked over https (or http with --allow-http)"),
    }
    let timeout = Duration::from_secs(args.timeout_secs.max(1));
    let config = SenderConfig { connect_timeout: timeout, request_timeout: timeout, net: NetPolicy { allow: args.allow_net.clone() } };
    let sender = HyperSender::new(&config, Arc::new(SystemResolver))?;
    let (mut forgeries_accepted, mut failed) = (0, 0);
    println!("{:<52} {:<10} {:<8} correct receiver", "request", "answer", "verdict");
    for probe in probes(url.as_str(), &secret) {
        let (answer, accepted) = match sender.send(probe.request).await {
            Ok(response) => (response.status.to_string(), Some((200..300).contains(&response.status))),
            Err(error) => (format!("no answer ({})", error.detail), None),
        };
        let verdict = match (probe.expect, accepted) {
            (Expect::Either, _) => "note",
            (Expect::Accept, Some(true)) | (Expect::Refuse, Some(false)) => "pass",
            (Expect::Refuse, Some(true)) => {
                forgeries_accepted += 1;
                "FAIL"
            }
            _ => {
                failed += 1;
                "FAIL"
            }
        };
        let correct = match probe.expect {
            Expect::Accept => "accepts it (2xx)",
            Expect::Refuse => "refuses it (4xx)",
            Expect::Either => "answers 2xx without processing it twice",
        };
        println!("{:<52} {:<10} {:<8} {correct}", probe.name, answer, verdict);
    }
    match (forgeries_accepted, failed) {
        (0, 0) => {
            println!("the receiver refuses every forged, altered, stale and unsigned request and accepts genuine ones");
            Ok(())
        }
        (0, broken) => anyhow::bail!("{broken} request(s) did not get the answer a correct receiver gives (see the table)"),
        (forged, _) => anyhow::bail!("the receiver accepted {forged} request(s) it must refuse: anyone can send it events"),
    }
}
