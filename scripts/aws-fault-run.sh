#!/usr/bin/env bash
# The AWS fault run at a size of your choosing (the test command runs it with 200 events):
# starts moto on free loopback ports, runs the fault-run test with EVENTS events (default
# 2000) published at RATE a second (default 10) and prints its report, then stops moto. SQS
# gets a moto of its own (each serves on one core), without the costs that grow with a queue's
# length (scripts/moto_sqs_server.py). See the README's "Faults the emulator hides".
# Usage: aws-fault-run.sh [EVENTS] [RATE]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/moto.sh

ensure_venv
moto_log=/dev/null
trap stop_moto EXIT
start_moto
start_sqs_moto
HOOKLINE_FAULT_EVENTS="${1:-2000}" HOOKLINE_FAULT_RATE="${2:-10}" cargo test --release --locked -p hookline-tests --test integration \
    functions::faults::nothing_accepted -- --nocapture
