#!/usr/bin/env bash
# The AWS fault run at a size of your choosing (the test command runs it with 200 events):
# starts moto on a free loopback port, runs the fault-run test with EVENTS events (default
# 3000) published at RATE a second (default 6; moto's SQS slows with every message a queue
# holds, so thousands at once take hours) and prints its report, then stops moto. See the
# README's "Faults the emulator hides". Usage: aws-fault-run.sh [EVENTS] [RATE]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/moto.sh

ensure_venv
moto_log=/dev/null
trap stop_moto EXIT
start_moto
HOOKLINE_FAULT_EVENTS="${1:-3000}" HOOKLINE_FAULT_RATE="${2:-6}" cargo test --release --locked -p hookline-tests --test integration \
    functions::faults::nothing_accepted -- --nocapture
