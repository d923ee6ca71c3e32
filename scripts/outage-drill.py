#!/usr/bin/env python3
"""A receiver outage, end to end, against a real `hookline serve`.

Publishes `--rate` events per second to a webhook whose receiver answers 503 for `--outage`
seconds (after a short warm-up), then 204 again, and waits until every event has been
delivered. An operations endpoint subscribed to `hookline.*` records what operators are told.
Prints one JSON report: what was published and delivered (each event once? in order?), the
webhook's state changes, when it recovered after the receiver came back, how fast the backlog
drained, and the operational events.

    python scripts/outage-drill.py --binary target/release/hookline --outage 1800 --rate 20
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """Records each request's event id and type; answers 503 while `down`."""

    def __init__(self):
        self.down = False
        self.lock = threading.Lock()
        self.requests = []  # (time, event id, event type, status answered, attempt)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                status = 503 if receiver.down else 204
                event = json.loads(body)
                with receiver.lock:
                    receiver.requests.append((time.time(), event["id"], event["event_type"], status,
                                              int(self.headers.get("x-hookline-attempt", "0")), event.get("data", {})))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *_):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def call(base, method, path, token=None, key=None, body=None):
    request = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode())
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    if key:
        request.add_header("x-api-key", key)
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read()
        return json.loads(text) if text else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default="target/release/hookline")
    parser.add_argument("--outage", type=float, default=1800, help="seconds the receiver answers 503")
    parser.add_argument("--rate", type=float, default=20, help="events published per second")
    parser.add_argument("--warmup", type=float, default=30, help="seconds of normal delivery before and after the outage")
    parser.add_argument("--port", type=int, default=18080)
    parser.add_argument("extra", nargs="*", help="more flags for hookline serve")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="hookline-drill-")
    data = os.path.join(work, "drill.db")
    base = f"http://127.0.0.1:{args.port}"
    server = subprocess.Popen([args.binary, "serve", "--listen", f"127.0.0.1:{args.port}", "--data", data, "--allow-http",
                               "--allow-net", "127.0.0.0/8", *args.extra], stdout=subprocess.DEVNULL,
                              stderr=open(os.path.join(work, "serve.log"), "w"))
    try:
        for _ in range(200):
            try:
                call(base, "GET", "/health")
                break
            except OSError:
                time.sleep(0.1)
        token = subprocess.run([args.binary, "token", "--data", data, "--role", "webhooks:admin", "--sub", "drill"],
                               capture_output=True, text=True, check=True).stdout.strip().split()[-1]
        key = call(base, "POST", "/api/v1/api-keys", token, body={"name": "drill"})["key"]
        receiver, operator = Receiver(), Receiver()
        webhook = call(base, "POST", "/api/v1/webhooks", token,
                       body={"name": "crm", "url": receiver.url, "events": ["customer.*"]})["id"]
        call(base, "POST", "/api/v1/webhooks", token, body={"name": "ops", "url": operator.url, "events": ["hookline.*"]})
        states, published = [], []
        stop = threading.Event()

        def watch_state():
            last = None
            while not stop.is_set():
                state = call(base, "GET", f"/api/v1/webhooks/{webhook}", token)["state"]
                if state != last:
                    states.append((time.time(), state))
                    last = state
                time.sleep(1)

        threading.Thread(target=watch_state, daemon=True).start()
        start = time.time()
        down_at, up_at = start + args.warmup, start + args.warmup + args.outage
        end_publishing = up_at + args.warmup
        n = 0
        while time.time() < end_publishing:
            now = time.time()
            receiver.down = down_at <= now < up_at
            due = start + n / args.rate
            if now < due:
                time.sleep(min(due - now, 0.05))
                continue
            answer = call(base, "POST", "/api/v1/events", key=key,
                          body={"event_type": "customer.created", "data": {"id": n, "full_name": f"Customer {n}", "email": "c@example.com"}})
            published.append((answer["id"], n))
            n += 1
        receiver.down = False
        wanted = {event_id for event_id, _ in published}
        deadline = time.time() + 6 * 3600
        while time.time() < deadline:
            with receiver.lock:
                delivered = {r[1] for r in receiver.requests if r[3] < 300 and r[2] == "customer.created"}
            if wanted <= delivered:
                break
            time.sleep(2)
        stop.set()
        finished = time.time()
        with receiver.lock:
            ok = [r for r in receiver.requests if r[3] < 300 and r[2] == "customer.created"]
            probes = sum(1 for r in receiver.requests if r[2] == "webhook.test")
        first_ok = {}
        for r in ok:
            first_ok.setdefault(r[1], r)
        # Events published while the receiver was down, delivered once it was back.
        backlog = [r for r in first_ok.values() if r[0] >= up_at and r[5]["id"] < (up_at - start) * args.rate]
        held_order = [r[5]["id"] for r in sorted(backlog, key=lambda r: r[0])]
        totals = call(base, "GET", "/api/v1/webhooks/metrics", token)["totals"]
        deliveries = {key: totals[key] for key in ("attempts", "failed_attempts", "succeeded", "dead")}
        deliveries["delivery_latency_p99_ms"] = totals["delivery_latency"]["p99_ms"]
        report = {
            "taken_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start)),
            "outage_secs": args.outage, "rate_per_sec": args.rate, "serve_flags": args.extra,
            "published": len(published),
            "delivered_events": len(first_ok), "lost": len(wanted - set(first_ok)),
            "requests_answered_2xx": len(ok), "duplicate_2xx": len(ok) - len(first_ok),
            "requests_during_outage": sum(1 for r in receiver.requests if down_at <= r[0] < up_at),
            "probes": probes,
            "metrics_totals": deliveries,
            "states": [(round(t - start, 1), s) for t, s in states],
            "receiver_up_at_secs": round(up_at - start, 1),
            "backlog_delivered_after_up": len(backlog),
            "backlog_first_after_up_secs": round(min((r[0] for r in backlog), default=up_at) - up_at, 1),
            "backlog_drained_after_up_secs": round(max((r[0] for r in backlog), default=up_at) - up_at, 1),
            "backlog_out_of_order": sum(1 for a, b in zip(held_order, held_order[1:]) if b < a),
            "all_delivered_after_secs": round(finished - start, 1),
            "operator_events": [(round(r[0] - start, 1), r[2]) for r in operator.requests if r[3] < 300],
        }
        print(json.dumps(report, indent=1))
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
