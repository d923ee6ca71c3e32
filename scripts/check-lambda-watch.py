#!/usr/bin/env python3
"""Serves the `api` function with `cargo lambda watch` over the AWS emulator and checks it
answers real HTTP requests: create a webhook, then list it.

Usage: check-lambda-watch.py AWS_ENDPOINT (the test command passes moto's).
"""
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_script(file: str, name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def call(method: str, url: str, token: str, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"authorization": f"Bearer {token}", "content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=240) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError as error:
        return None, f"no answer ({error})"


def main() -> None:
    endpoint = sys.argv[1]
    events = load_script("generate-events.py", "generate_events")
    environment = load_script("local-aws.py", "local_aws").create(endpoint)
    port = free_port()
    command = ["cargo", "lambda", "watch", "--ignore-changes", "-A", "127.0.0.1", "-P", str(port)]
    for key, value in environment.items():
        command += ["--env-var", f"{key}={value}"]
    log = tempfile.NamedTemporaryFile("w+", prefix="cargo-lambda-watch-", suffix=".log")
    watch = subprocess.Popen(command, cwd=ROOT, start_new_session=True, stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}/lambda-url/api"
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if watch.poll() is not None or time.monotonic() > deadline:
                    sys.exit(f"cargo lambda watch did not start:\n{Path(log.name).read_text()}")
                time.sleep(0.5)
        token = events.dev_token()
        webhook = {"name": "watch check", "url": "https://example.com/hook", "events": ["customer.*"]}
        status, created = call("POST", f"{base}/api/v1/webhooks", token, webhook)
        if status != 201:
            lines = [line for line in Path(log.name).read_text().splitlines() if '"level"' in line or "ERROR" in line or "rror" in line]
            print("\n".join(lines[-20:]), file=sys.stderr)
            sys.exit(f"creating a webhook through cargo lambda watch answered {status}: {created}")
        status, listed = call("GET", f"{base}/api/v1/webhooks", token)
        if status != 200 or created["id"] not in [w["id"] for w in listed["data"]]:
            sys.exit(f"listing webhooks through cargo lambda watch answered {status}: {listed}")
        print(f"cargo lambda watch: the api function created and listed webhook {created['id']}")
    finally:
        os.killpg(watch.pid, signal.SIGTERM)
        try:
            watch.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(watch.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
