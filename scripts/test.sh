#!/usr/bin/env bash
# The test command (README, CI): installs what the tests need, starts the AWS emulator on a
# free loopback port, runs formatting, lints and every test in the workspace, and stops the
# emulator again. Safe to run on a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
export HOOKLINE_TEST_PYTHON="$PWD/$venv/bin/python"
# `cargo lambda` is a cargo subcommand installed in the venv.
export PATH="$PWD/$venv/bin:$PATH"

log=$(mktemp)
moto_log=$(mktemp)
moto_pid=
cleanup() {
    if [ -n "$moto_pid" ]; then kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; fi
    rm -f "$log" "$moto_log"
}
trap cleanup EXIT

# DynamoDB and SQS for the AWS adapters and the functions: moto on a free loopback port.
port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$moto_log" 2>&1 &
moto_pid=$!
export HOOKLINE_TEST_AWS_ENDPOINT="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
    if "$venv/bin/python" -c "import urllib.request; urllib.request.urlopen('$HOOKLINE_TEST_AWS_ENDPOINT/moto-api/')" 2>/dev/null; then
        break
    fi
    if ! kill -0 "$moto_pid" 2>/dev/null; then
        cat "$moto_log" >&2
        echo "the AWS emulator (moto) did not start" >&2
        exit 1
    fi
    sleep 0.2
done

"$venv/bin/python" scripts/lint-template.py

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
set +e
cargo test --workspace --locked 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
if [ "$status" -eq 0 ]; then
    set +e
    "$venv/bin/python" scripts/check-lambda-watch.py "$HOOKLINE_TEST_AWS_ENDPOINT"
    status=$?
    set -e
fi
# One closing line for the whole run (cargo prints one per test binary).
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "%d passed, %d failed\n", passed, failed }' "$log"
exit "$status"
