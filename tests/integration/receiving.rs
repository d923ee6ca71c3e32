//! The receivers `docs/receiving.md` shows, run as written: the Python and JavaScript handlers
//! are cut from the guide and served by a real HTTP server in their language (with the official
//! `standardwebhooks` package from PyPI and npm), the Rust one is compiled in
//! (`hookline_tests::guide_receiver`, which the guide must show verbatim). Hookline delivers real
//! events to each, then `hookline check-receiver` must find that it accepts genuine requests and
//! a rotation's, refuses every forgery, and processes a replayed `webhook-id` only once.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hookline_core::domain::catalog;
use hookline_tests::{eventually, guide_receiver, spawn_app};
use serde_json::json;

use crate::check_receiver::{SECRET, check};

fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(relative)
}

/// The guide's code block whose info string is `info` (such as `python receiver`).
fn guide_block(info: &str) -> String {
    let guide = std::fs::read_to_string(repo_path("docs/receiving.md")).unwrap();
    let start = guide.find(&format!("```{info}\n")).unwrap_or_else(|| panic!("docs/receiving.md has no ```{info} block")) + info.len() + 4;
    let length = guide[start..].find("```").unwrap();
    guide[start..start + length].to_owned()
}

/// Serves the guide's Python `handle` over `http.server`; `process` prints what it is given.
const PYTHON_SERVER: &str = r#"
def process(event):
    print("processed", event["id"], flush=True)

{snippet}

from http.server import BaseHTTPRequestHandler, HTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(handle(body, {name.lower(): value for name, value in self.headers.items()}))
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass

server = HTTPServer(("127.0.0.1", 0), Handler)
print("listening", server.server_address[1], flush=True)
server.serve_forever()
"#;

/// Serves the guide's JavaScript `handle` over Node's `http`; `process_event` prints.
const NODE_SERVER: &str = r#"
function process_event(event) {
  console.log("processed " + event.id);
}

{snippet}

const http = require("http");
const server = http.createServer((request, response) => {
  const chunks = [];
  request.on("data", (chunk) => chunks.push(chunk));
  request.on("end", () => {
    response.statusCode = handle(Buffer.concat(chunks), request.headers);
    response.end();
  });
});
server.listen(0, "127.0.0.1", () => console.log("listening " + server.address().port));
"#;

/// A receiver in another language: its process, URL, and the event ids it said it processed.
struct ScriptReceiver {
    child: Child,
    url: String,
    processed: Arc<Mutex<Vec<String>>>,
}

impl ScriptReceiver {
    fn python() -> Self {
        let python = std::env::var("HOOKLINE_TEST_PYTHON").expect("HOOKLINE_TEST_PYTHON is set by the test command");
        let script = PYTHON_SERVER.replace("{snippet}", &guide_block("python receiver"));
        Self::start(Command::new(python).args(["-c", &script]))
    }

    fn node() -> Self {
        let modules = repo_path("tests/receiving/node_modules");
        assert!(
            modules.join("standardwebhooks").is_dir(),
            "tests/receiving/node_modules is missing: run the README's test command (npm ci)"
        );
        let script = NODE_SERVER.replace("{snippet}", &guide_block("js receiver"));
        Self::start(Command::new("node").args(["-e", &script]).env("NODE_PATH", modules))
    }

    /// Starts `command` with the secret in its environment and reads its port, then keeps
    /// collecting the ids it prints as processed.
    fn start(command: &mut Command) -> Self {
        let mut child = command.env("HOOKLINE_WEBHOOK_SECRET", SECRET).stdout(Stdio::piped()).spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().unwrap().unwrap();
        let port = first.strip_prefix("listening ").unwrap_or_else(|| panic!("the receiver said {first:?}"));
        let url = format!("http://127.0.0.1:{port}/hook");
        let processed = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&processed);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if let Some(id) = line.strip_prefix("processed ") {
                    sink.lock().unwrap().push(id.to_owned());
                }
            }
        });
        Self { child, url, processed }
    }

    fn processed(&self) -> Vec<String> {
        self.processed.lock().unwrap().clone()
    }
}

impl Drop for ScriptReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Delivers two real events to the receiver at `url`, then checks it with `check-receiver`;
/// `processed` gives the event ids the receiver's own code was handed.
async fn exercise(url: &str, processed: impl Fn() -> Vec<String>) {
    let app = spawn_app().await;
    app.create_webhook(url, &["customer.*"], json!({"secret": SECRET})).await;
    let mut published = Vec::new();
    for event_type in ["customer.created", "customer.updated"] {
        let example = catalog::find(event_type).unwrap().example.clone();
        published.push(app.publish(event_type, example).await["id"].as_str().unwrap().to_owned());
    }
    let delivered = eventually("both deliveries processed", Duration::from_secs(30), || async {
        let seen = processed();
        (seen.len() >= 2).then_some(seen)
    })
    .await;
    let mut delivered = delivered[..2].to_vec();
    delivered.sort();
    published.sort();
    assert_eq!(delivered, published);

    let target = url.to_owned();
    let (passed, said) = tokio::task::spawn_blocking(move || check(&target, true)).await.unwrap();
    assert!(passed, "{said}");
    assert_eq!(said.matches(" pass ").count(), 7, "{said}");
    eventually("the probes processed", Duration::from_secs(10), || async { (processed().len() >= 4).then_some(()) }).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut all = processed();
    assert_eq!(all.len(), 4, "two deliveries, the genuine probe and the rotation's, each once (not the replay): {all:?}");
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 4, "{all:?}");
}

#[tokio::test]
async fn the_guides_python_receiver_takes_deliveries_and_refuses_forgeries() {
    let receiver = ScriptReceiver::python();
    exercise(&receiver.url, || receiver.processed()).await;
}

#[tokio::test]
async fn the_guides_javascript_receiver_takes_deliveries_and_refuses_forgeries() {
    let receiver = ScriptReceiver::node();
    exercise(&receiver.url, || receiver.processed()).await;
}

#[tokio::test]
async fn the_guides_rust_receiver_takes_deliveries_and_refuses_forgeries() {
    let source = std::fs::read_to_string(repo_path("tests/src/guide_receiver.rs")).unwrap();
    assert!(source.contains(&guide_block("rust receiver")), "docs/receiving.md's Rust receiver differs from tests/src/guide_receiver.rs");
    let url = guide_receiver::serve(SECRET).await;
    exercise(&url, guide_receiver::processed).await;
}
