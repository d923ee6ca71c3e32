#!/usr/bin/env bash
# Coverage-guided fuzzing with libFuzzer, on the stable toolchain: `scripts/fuzz.sh TARGET
# [SECONDS] [JOBS]` (targets: `cargo run -p hookline-fuzz --bin hookline-fuzz -- list`).
# Builds hookline-libfuzzer with sanitizer-coverage instrumentation (rustc's stable -C passes
# and -C llvm-args; no nightly, no sanitizer runtime), runs libFuzzer from a scratch copy of
# the checked-in corpus with per-input time and memory limits, then merges what it found into
# fuzz/corpus/TARGET (only inputs that add coverage). A crash is saved in fuzz/artifacts/ and
# replays with `hookline-fuzz TARGET --replay FILE`.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/fuzz.sh TARGET [SECONDS] [JOBS]}
seconds=${2:-600}
jobs=${3:-1}
triple=$(rustc -vV | sed -n 's/^host: //p')
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
cargo build --locked --profile fuzz --target "$triple" --target-dir target/libfuzzer \
    -p hookline-fuzz --features libfuzzer --bin hookline-libfuzzer
binary="target/libfuzzer/$triple/fuzz/hookline-libfuzzer"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" fuzz/artifacts "fuzz/corpus/$target"
cp "fuzz/corpus/$target"/* "$work/corpus/" 2>/dev/null || true
export HOOKLINE_FUZZ_TARGET=$target
parallel=()
[ "$jobs" -gt 1 ] && parallel=(-fork="$jobs")
status=0
(cd "$work" && "$OLDPWD/$binary" corpus -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
    -max_len=65536 "${parallel[@]}" -print_final_stats=1 -artifact_prefix="$OLDPWD/fuzz/artifacts/$target-" \
    > log 2>&1) || status=$?
grep -E "^#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss|ERROR|SUMMARY|Test unit written" "$work/log" || true
"$binary" -set_cover_merge=1 "fuzz/corpus/$target" "$work/corpus" 2>&1 | grep -E "MERGE-OUTER: [0-9]+ new files" || true
if [ "$status" -ne 0 ]; then
    cp "$work/log" "fuzz/artifacts/$target-$(date +%Y%m%dT%H%M%S).log"
    echo "libFuzzer stopped with status $status: its log and the input are in fuzz/artifacts/"
    exit 1
fi
echo "fuzzed $target for $seconds s; corpus: $(ls "fuzz/corpus/$target" | wc -l) files"
