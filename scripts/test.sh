#!/usr/bin/env bash
# The test command (README, CI): installs what the tests need, starts the AWS emulator on a
# free loopback port, runs formatting, lints and every test in the workspace, checks the IAM
# policies against the calls the function tests made, runs the README's local AWS steps and
# every events/ file through cargo-lambda, and stops what it started. Safe on a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/moto.sh

ensure_venv
# The Python client installs as its README says (its tests import it from the source tree).
"$venv/bin/pip" install --quiet --disable-pip-version-check ./clients/python
export HOOKLINE_TEST_PYTHON="$PWD/$venv/bin/python"
# `cargo lambda` is a cargo subcommand installed in the venv.
export PATH="$PWD/$venv/bin:$PATH"

# The README's local AWS steps use curl; the dashboard test drives Debian's Chromium; the
# receiving guide's JavaScript receiver runs on Node.js.
missing=()
command -v curl >/dev/null || missing+=(curl)
command -v npm >/dev/null || missing+=(nodejs npm)
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
if [ "${#missing[@]}" -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The npm packages of the receiving guide's JavaScript receiver, as locked.
npm ci --prefix tests/receiving --no-audit --no-fund --silent

log=$(mktemp)
moto_log=$(mktemp)
# Every AWS permission the function tests' calls need (tests/src/iam.rs), for check-iam.py.
export HOOKLINE_TEST_IAM_LOG
HOOKLINE_TEST_IAM_LOG=$(mktemp)
cleanup() {
    stop_moto
    rm -f "$log" "$moto_log" "$HOOKLINE_TEST_IAM_LOG"
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
# What the emulator cannot check: each function's IAM policy against the calls it made.
# Then the README's local AWS steps and every events/ file through `cargo lambda invoke`.
checks_passed=0
checks_failed=0
run_check() {
    if "$venv/bin/python" "$@"; then
        checks_passed=$((checks_passed + 1))
    else
        checks_failed=$((checks_failed + 1))
        status=1
    fi
}
if [ "$status" -eq 0 ]; then
    run_check scripts/check-iam.py "$HOOKLINE_TEST_IAM_LOG"
    run_check scripts/check-local-aws.py
fi
# One closing line for the whole run (cargo prints one per test binary; the checks count one each).
awk -v extra_passed="$checks_passed" -v extra_failed="$checks_failed" \
    '/^test result:/ { passed += $4; failed += $6 } END { printf "%d passed, %d failed\n", passed + extra_passed, failed + extra_failed }' "$log"
exit "$status"
