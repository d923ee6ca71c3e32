#!/usr/bin/env bash
# The AWS benchmark: builds the release binaries, starts moto on a free loopback port, runs
# the functions' handlers over it (requests per delivery, cold starts) and stops moto again.
# Arguments go to the benchmark (e.g. --events 2000).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
cargo build --release --locked -p hookline-api -p hookline-ingest -p hookline-deliver -p hookline-tests --bin api --bin ingest --bin deliver --bin aws-bench

port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true' EXIT
endpoint="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
    "$venv/bin/python" -c "import urllib.request; urllib.request.urlopen('$endpoint/moto-api/')" 2>/dev/null && break
    sleep 0.2
done
target/release/aws-bench --endpoint "$endpoint" --binaries target/release "$@"
