#!/usr/bin/env bash
# The test command (README, CI): installs what the tests need, starts the AWS emulator on a
# free loopback port, runs formatting, lints and every test in the workspace, and stops the
# emulator again. Safe to run on a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/moto.sh

ensure_venv
export HOOKLINE_TEST_PYTHON="$PWD/$venv/bin/python"
# `cargo lambda` is a cargo subcommand installed in the venv.
export PATH="$PWD/$venv/bin:$PATH"

log=$(mktemp)
moto_log=$(mktemp)
cleanup() {
    stop_moto
    rm -f "$log" "$moto_log"
}
trap cleanup EXIT

# DynamoDB and SQS for the AWS adapters and the functions.
start_moto

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
