#!/usr/bin/env bash
# The test command (README, CI): installs what the tests need, then runs formatting,
# lints and every test in the workspace. Safe to run on a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
export HOOKLINE_TEST_PYTHON="$PWD/$venv/bin/python"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
