//! `hookline check-receiver` against a careless receiver (accepts anything), and its refusal to
//! reach a private address unless allowed. Correct receivers (the guide's, in three languages,
//! on the official libraries) pass it in `receiving`.

use std::process::Command;

use hookline_tests::TestReceiver;

use crate::server_process::binary;

pub const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

/// Runs the check; its exit status and everything it printed.
pub fn check(url: &str, allow: bool) -> (bool, String) {
    let mut command = Command::new(binary());
    command.args(["check-receiver", url, "--secret", SECRET, "--allow-http", "--timeout-secs", "5"]);
    if allow {
        command.args(["--allow-net", "127.0.0.0/8"]);
    }
    let output = command.output().unwrap();
    (output.status.success(), format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)))
}

#[tokio::test]
async fn a_receiver_that_accepts_anything_fails_and_is_told_why() {
    let careless = TestReceiver::start().await;
    let url = careless.url.clone();
    let (passed, said) = tokio::task::spawn_blocking(move || check(&url, true)).await.unwrap();
    assert!(!passed, "{said}");
    assert!(said.contains("accepted 5 request(s) it must refuse"), "{said}");
    for probe in ["a forged signature", "the body altered after signing", "a stale timestamp", "a timestamp 10 min ahead", "no webhook-id"]
    {
        let line = said.lines().find(|line| line.starts_with(probe)).unwrap_or_default();
        assert!(line.contains("FAIL") && line.contains("refuses it"), "{probe}: {said}");
    }
    assert_eq!(careless.received().len(), 8, "every probe was sent");
}

#[tokio::test]
async fn a_private_address_is_not_checked_unless_allowed() {
    let receiver = TestReceiver::start().await;
    let url = receiver.url.clone();
    let (passed, said) = tokio::task::spawn_blocking(move || check(&url, false)).await.unwrap();
    assert!(!passed && said.contains("not an allowed address"), "{said}");
    assert!(receiver.received().is_empty());
}
