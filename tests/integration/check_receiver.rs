//! `hookline check-receiver` against a correct receiver (the official Standard Webhooks Python
//! library, deduplicating by `webhook-id`) and a careless one (accepts anything), and its
//! refusal to reach a private address unless allowed.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use hookline_tests::TestReceiver;

use crate::server_process::binary;

const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

/// A receiver as its documentation says to write one: 400 unless the library verifies the
/// request, 204 otherwise, and each `webhook-id` processed once. Prints its port.
const CORRECT_RECEIVER: &str = r#"
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
hook, seen = Webhook(sys.argv[1]), set()
class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
        try:
            hook.verify(body, {k.lower(): v for k, v in self.headers.items()})
        except WebhookVerificationError:
            self.send_response(400); self.end_headers(); return
        seen.add(self.headers["webhook-id"])
        self.send_response(204); self.end_headers()
    def log_message(self, *args):
        pass
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

struct PythonReceiver {
    child: Child,
    url: String,
}

impl PythonReceiver {
    fn start() -> Self {
        let python = std::env::var("HOOKLINE_TEST_PYTHON").expect("HOOKLINE_TEST_PYTHON is set by the test command");
        let mut child = Command::new(python).args(["-c", CORRECT_RECEIVER, SECRET]).stdout(Stdio::piped()).spawn().unwrap();
        let mut port = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut port).unwrap();
        Self { child, url: format!("http://127.0.0.1:{}/hook", port.trim()) }
    }
}

impl Drop for PythonReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the check; its exit status and everything it printed.
fn check(url: &str, allow: bool) -> (bool, String) {
    let mut command = Command::new(binary());
    command.args(["check-receiver", url, "--secret", SECRET, "--allow-http", "--timeout-secs", "5"]);
    if allow {
        command.args(["--allow-net", "127.0.0.0/8"]);
    }
    let output = command.output().unwrap();
    (output.status.success(), format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)))
}

#[tokio::test]
async fn a_receiver_using_the_official_library_passes_every_check() {
    let receiver = PythonReceiver::start();
    let url = receiver.url.clone();
    let (passed, said) = tokio::task::spawn_blocking(move || check(&url, true)).await.unwrap();
    assert!(passed, "{said}");
    assert_eq!(said.matches(" pass ").count(), 7, "{said}");
    assert!(said.contains("the receiver refuses every forged"), "{said}");
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
