#!/usr/bin/env python3
"""The README's "Run the functions locally", run as written, then every file in events/ sent
through `cargo lambda invoke` to the function it is for. Part of the test command.

1. Runs the README's terminal 1 block (moto, local-aws.py, `cargo lambda watch`) and terminal 2
   block (a webhook, local-receiver.py, local-poller.py, an EventBridge event) in bash, on free
   ports, and waits for the receiver's `verified customer.created` line: the AWS build delivers
   a signed webhook that the official library accepts.
2. Invokes every sample in events/, events/prod-stage/ and events/sam-cli/ with `cargo lambda invoke` against
   that `cargo lambda watch`, with real ids in place of the placeholders, and checks each answer.

Usage: check-local-aws.py
"""
import base64
import http.server
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
NAMED_STAGE = "prod-stage"
SAMPLE_KEY = "hk_0000000000000000_sample-key-replaced-by-tests"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(what: str, check, limit: float, process=None, log=None):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if process is not None and process.poll() is not None:
            break
        time.sleep(0.5)
    sys.exit(f"{what} did not happen within {limit:.0f} s" + (f":\n{Path(log).read_text()[-4000:]}" if log else ""))


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def readme_blocks() -> dict:
    """The README's local AWS blocks, by terminal."""
    text = (ROOT / "README.md").read_text()
    found = re.findall(r"<!-- local-aws: (terminal \d) -->\n```sh\n(.*?)```", text, re.S)
    if len(found) != 2:
        sys.exit(f"README.md should have the two local AWS blocks (terminal 1, terminal 2); found {len(found)}")
    return dict(found)


def localized(block: str, names: dict) -> str:
    """The block on this run's ports and files instead of the README's."""
    for written, used in names.items():
        block = re.sub(rf"(?<![\w.]){re.escape(written)}(?![\w])", used, block)
    return "set -euo pipefail\n" + block


def start(block: str, log: Path) -> subprocess.Popen:
    with open(log, "w") as output:
        return subprocess.Popen(["bash", "-c", block], cwd=ROOT, start_new_session=True, stdout=output,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def run_readme(work: Path, processes: list) -> int:
    """Runs both README blocks; returns the port `cargo lambda watch` serves on."""
    blocks = readme_blocks()
    watch_port = free_port()
    names = {"5000": str(free_port()), "9100": str(watch_port), "9200": str(free_port()),
             ".env.local": str(work / "env.local"), "moto.log": str(work / "moto.log")}
    first, second = work / "terminal-1.log", work / "terminal-2.log"
    processes.append(start(localized(blocks["terminal 1"], names), first))
    wait_for("cargo lambda watch listening (README terminal 1)", lambda: port_open(watch_port), 300, processes[-1], first)
    processes.append(start(localized(blocks["terminal 2"], names), second))
    verified = wait_for("a verified customer.created at the README's receiver (terminal 2)",
                        lambda: re.search(r"^verified customer\.created .*$", second.read_text(), re.M), 900, None, second)
    print(f"README local AWS steps: {verified.group(0)[:100]}")
    return watch_port


class Receiver:
    """A receiver answering 204 to everything, for the sample walk's webhooks."""

    def __init__(self):
        self.received = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                outer.received.append(self.rfile.read(int(self.headers.get("content-length", 0))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Walk:
    """Sample files through `cargo lambda invoke`, placeholders replaced by real values."""

    def __init__(self, port: int, folder: str, work: Path, replacements: list):
        self.port, self.folder, self.work = port, folder, work
        self.replacements = list(replacements)
        self.covered = set()

    def replace(self, placeholder: str, value: str) -> None:
        self.replacements.append((placeholder, value))

    def event(self, name: str, extra=()) -> Path:
        staged = EVENTS / self.folder / f"{name}.json"
        path, label = (staged, f"{self.folder}/{name}") if self.folder and staged.exists() else (EVENTS / f"{name}.json", name)
        self.covered.add(label)
        text = path.read_text()
        for placeholder, value in [*extra, *self.replacements]:
            text = text.replace(placeholder, value)
        event = json.loads(text)
        if event.get("isBase64Encoded"):
            body = base64.b64decode(event["body"]).decode()
            for placeholder, value in [*extra, *self.replacements]:
                body = body.replace(placeholder, value)
            event["body"] = base64.b64encode(body.encode()).decode()
        target = self.work / f"{label.replace('/', '-')}.json"
        target.write_text(json.dumps(event))
        return target

    def invoke(self, function: str, name: str, extra=()) -> dict:
        command = ["cargo", "lambda", "invoke", "-A", "127.0.0.1", "-P", str(self.port), function,
                   "--data-file", str(self.event(name, extra)), "-o", "json"]
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            sys.exit(f"cargo lambda invoke {function} {name} failed:\n{result.stdout}{result.stderr}")
        return json.loads(result.stdout)

    def http(self, function: str, name: str, status: int) -> dict:
        answer = self.invoke(function, name)
        body = self.body(answer)
        if answer.get("statusCode") != status:
            sys.exit(f"{self.folder or 'events'}/{name} through {function} answered {answer.get('statusCode')}, not {status}: {body}")
        return body

    @staticmethod
    def body(answer: dict):
        """JSON as parsed; the dashboard's HTML, scripts and styles as {"text": ...}."""
        text = answer.get("body") or "null"
        if answer.get("isBase64Encoded"):
            text = base64.b64decode(text).decode()
        content_type = (answer.get("headers") or {}).get("content-type", "application/json")
        return json.loads(text) if content_type.startswith("application/json") else {"text": text}


def walk_samples(walk: Walk, receiver: Receiver) -> None:
    """Every sample in order, so each refers to something that exists; the non-HTTP sources once."""
    walk.replace("https://crm.example.com/hooks/hookline", receiver.url)
    webhook = walk.http("api", "api-create-webhook", 201)["id"]
    walk.replace("wh_sample", webhook)
    key = walk.http("api", "api-create-api-key", 201)
    walk.replace(SAMPLE_KEY, key["key"])
    walk.replace("key_sample", key["id"])
    walk.http("ingest", "ingest-http-publish", 202)
    walk.http("ingest", "ingest-http-batch", 200)
    if not walk.folder:
        bridge = walk.invoke("ingest", "ingest-eventbridge")
        if bridge.get("published", 0) + bridge.get("duplicates", 0) != 1:
            sys.exit(f"ingest-eventbridge: {bridge}")
        if walk.invoke("ingest", "ingest-sns").get("published") != 1:
            sys.exit("ingest-sns did not publish its event")
        failures = [f["itemIdentifier"] for f in walk.invoke("ingest", "ingest-sqs")["batchItemFailures"]]
        if failures != ["0f1c2b7e-6f0a-4e57-9d44-5d0c1f3c1a02"]:
            sys.exit(f"ingest-sqs should refuse its second record only: {failures}")
        # The sample stream batch: an event nobody subscribes to, its erasure, a delivery item,
        # an attempt's write and a removal; the inserted event is fanned out, the attempt counted.
        fanned = walk.invoke("ingest", "ingest-stream")
        if fanned != {"events": 1, "deliveries": 0, "attempts": 1, "unreadable": 0}:
            sys.exit(f"ingest-stream: {fanned}")
    walk.http("api", "api-test-webhook", 200)
    # What was published is fanned out by the README's local-poller.py, from the table's stream.
    deliveries = wait_for("the published events to be fanned out",
                          lambda: fanned_out(walk.http("api", "api-list-webhook-deliveries", 200)["data"]), 60)
    ping = next(d for d in deliveries if d["event_type"] == "webhook.test")
    published = next(d for d in deliveries if d["event_type"] != "webhook.test")
    if not walk.folder:
        batch = [("dlv_sample", published["id"]), ("evt_sample", published["event_id"])]
        if walk.invoke("deliver", "deliver-batch", batch).get("batchItemFailures"):
            sys.exit("deliver-batch: the task should be delivered and the poison record dead-lettered")
    walk.replace("dlv_sample", ping["id"])
    for name in ["api-health", "api-openapi", "api-list-event-types", "api-get-event-type", "api-list-webhooks", "api-get-webhook",
                 "api-update-webhook", "api-get-secret", "api-rotate-secret", "api-list-deliveries", "api-get-delivery",
                 "api-metrics", "api-list-api-keys", "api-audit", "api-test-filter"]:
        walk.http("api", name, 200)
    if "<script type=\"module\" src=\"ui/app.js\">" not in walk.http("api", "api-dashboard", 200)["text"]:
        sys.exit("api-dashboard: the dashboard's page should load ui/app.js")
    if "export" not in walk.http("api", "api-dashboard-asset", 200)["text"]:
        sys.exit("api-dashboard-asset: ui/api.js should be the dashboard's API module")
    if walk.http("api", "api-acknowledge-delivery", 409).get("code") != "conflict":
        sys.exit("api-acknowledge-delivery: a delivery that is not dead is refused with 409 conflict")
    walk.http("api", "api-replay-delivery", 202)
    walk.http("api", "api-replay-dead", 202)
    walk.replace("rpl_sample", walk.http("api", "api-bulk-replay", 202)["id"])
    if not walk.http("api", "api-get-replay", 200).get("finished"):
        sys.exit("api-get-replay: a replay of nothing should be finished")
    if walk.http("api", "api-enable-webhook", 200).get("state") != "active":
        sys.exit("api-enable-webhook: the webhook should be active")
    if not walk.folder:
        done = walk.invoke("maintain", "maintain-schedule")
        if not {"probed", "recovered", "disabled", "released", "replayed", "dead_letters_dropped"} <= set(done):
            sys.exit(f"maintain-schedule: {done}")
    walk.replace("evt_sample", published["event_id"])
    walk.http("api", "api-erase-event", 204)
    walk.http("api", "api-revoke-api-key", 204)
    walk.http("api", "api-delete-webhook", 204)
    walk.http("api", "api-get-webhook", 404)


def fanned_out(deliveries: list):
    """The deliveries, once one besides the test ping is among them."""
    return deliveries if any(d["event_type"] != "webhook.test" for d in deliveries) else None


def check_failed_invocation(port: int, work: Path, watch_log: Path) -> None:
    """An event from no known source fails the invocation with a clear errorType, logged by
    Hookline itself (not under the runtime's panic layer, as if something had panicked)."""
    unknown = work / "unknown-source.json"
    unknown.write_text('{"hello": "world"}')
    command = ["cargo", "lambda", "invoke", "-A", "127.0.0.1", "-P", str(port), "ingest", "--data-file", str(unknown)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    if result.returncode == 0 or "Hookline.UnknownSource" not in result.stdout + result.stderr:
        sys.exit(f"an unknown event should fail ingest with Hookline.UnknownSource:\n{result.stdout}{result.stderr}")
    logged = wait_for("ingest logging its failure", lambda: '"error_type":"Hookline.UnknownSource"' in watch_log.read_text(), 30)
    if logged and "lambda_runtime::layers::panic" in watch_log.read_text():
        sys.exit("a handler error was logged under lambda_runtime::layers::panic")


def sample_files(folder: str) -> set:
    directory = EVENTS / folder
    return {f"{folder}/{p.stem}" if folder else p.stem for p in directory.iterdir() if p.suffix == ".json"}


def main() -> None:
    processes = []
    with tempfile.TemporaryDirectory(prefix="hookline-local-aws-") as directory:
        work = Path(directory)
        try:
            port = run_readme(work, processes)
            receiver = Receiver()
            covered = set()
            walks = [("", []), (NAMED_STAGE, [("evt_sample_", "evt_stage_")]), ("sam-cli", [("evt_sample_", "evt_sam_")])]
            for folder, replacements in walks:
                walk = Walk(port, folder, work, replacements)
                walk_samples(walk, receiver)
                missing = sample_files(folder) - walk.covered
                if missing:
                    sys.exit(f"no check invokes {sorted(missing)}")
                covered |= walk.covered
            check_failed_invocation(port, work, work / "terminal-1.log")
            print(f"cargo lambda invoke: all {len(covered)} files in events/ answered as expected "
                  f"({len(receiver.received)} deliveries at the walk's receiver)")
        finally:
            for process in reversed(processes):
                stop(process)


if __name__ == "__main__":
    main()
