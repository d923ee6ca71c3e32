#!/usr/bin/env bash
# The AWS benchmark: builds the release binaries, starts moto on a free loopback port, runs
# the functions' handlers over it (requests per delivery, cold starts) and stops moto again.
# Arguments go to the benchmark (e.g. --events 2000).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/moto.sh

ensure_venv
cargo build --release --locked -p hookline-api -p hookline-ingest -p hookline-deliver -p hookline-tests --bin api --bin ingest --bin deliver --bin aws-bench
moto_log=/dev/null
trap stop_moto EXIT
start_moto
target/release/aws-bench --endpoint "$HOOKLINE_TEST_AWS_ENDPOINT" --binaries target/release "$@"
