#!/usr/bin/env bash
# Side by side: builds <commit> and the working tree (profile `profiling`, or $PROFILE), then runs the
# working tree's benchmark alternately against each build's server, <rounds> rounds of one
# run each, and prints each figure's median for both and the ratio new/old. The load
# generator and receiver are the same for both (this build's `hookline bench --server`), so
# only the server differs; alternating spreads the host's drift over both. Run as root, it
# empties the page cache before each run: how much of a binary's code the kernel maps (and
# counts in its RSS) depends on how the file came into the cache, and a binary just written
# by the linker counted up to 1.8 MiB more than the same code read from disk.
#
#   [PROFILE=release] scripts/bench-compare.sh <commit> [rounds=3] [bench arguments, e.g. --only throughput,fanout]
#
# The release profile is what users build; its link takes about 80 s more (LTO). The load
# generator is always this tree's profiling build.
set -euo pipefail
cd "$(dirname "$0")/.."
old_rev=$(git rev-parse --verify "${1:?usage: scripts/bench-compare.sh <commit> [rounds] [bench arguments]}^{commit}")
rounds=${2:-3}
shift $(( $# >= 2 ? 2 : 1 ))
profile=${PROFILE:-profiling}
out=target/bench-compare
mkdir -p "$out"

old_server="$out/hookline-${old_rev:0:12}"
[ "$profile" = profiling ] || old_server="$old_server-$profile"
worktree="$out/worktree-${old_rev:0:12}"
if [ ! -x "$old_server" ]; then
    rm -rf "$worktree"
    git worktree add --detach "$worktree" "$old_rev" >/dev/null
    # The same target directory, so dependencies are built once for both.
    target_dir="$PWD/target"
    (cd "$worktree" && CARGO_TARGET_DIR="$target_dir" cargo build --profile "$profile" --locked -q -p hookline)
    cp "target/$profile/hookline" "$old_server"
    git worktree remove --force "$worktree"
fi
cargo build --profile "$profile" --locked -q -p hookline
# The server runs from a copy, so neither build's server shares its file with the load generator.
cp "target/$profile/hookline" "$out/hookline-new"
[ "$profile" = profiling ] || cargo build --profile profiling --locked -q -p hookline

log="$out/$(date -u +%Y%m%dT%H%M%SZ).log"
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -n); profile $profile; old ${old_rev:0:12}, new = working tree of $(git rev-parse --short HEAD)" | tee "$log"
for round in $(seq 1 "$rounds"); do
    for side in old new; do
        server=$old_server
        [ "$side" = new ] && server=$out/hookline-new
        echo "round $round: $side" >&2
        if [ -w /proc/sys/vm/drop_caches ]; then sync && echo 3 > /proc/sys/vm/drop_caches; fi
        target/profiling/hookline bench --runs 1 --json --server "$server" "$@" | sed -n "s/^json /$side /p" | tee -a "$log"
    done
done
python3 - "$log" <<'EOF'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    side, _, body = line.partition(" ")
    if side in ("old", "new"):
        row = json.loads(body)
        runs.setdefault((row["workload"], side), []).append(row)
fields = ["deliveries_per_sec", "accepted_per_sec", "p50_ms", "p99_ms", "cpu_seconds_per_1000", "peak_rss_mib"]
print(f"{'workload':<11} {'figure':<21} {'old':>10} {'new':>10} {'new/old':>8}")
for workload in dict.fromkeys(w for w, _ in runs):
    for field in fields:
        medians = []
        for side in ("old", "new"):
            values = [r[field] for r in runs.get((workload, side), []) if r.get(field) is not None]
            medians.append(statistics.median(values) if values else None)
        old, new = medians
        if old is None or new is None or (old == 0 and new == 0):
            continue
        ratio = f"{new / old:.2f}" if old else "-"
        print(f"{workload:<11} {field:<21} {old:>10.2f} {new:>10.2f} {ratio:>8}")

# Each run's rate as a share of the loopback path's rate in the same run (same side, same
# round): the host's speed divided out, as the issue's targets are stated.
for workload in ("throughput", "fanout"):
    shares = []
    for side in ("old", "new"):
        pairs = zip(runs.get(("loopback", side), []), runs.get((workload, side), []))
        per_run = [100 * w["deliveries_per_sec"] / l["deliveries_per_sec"] for l, w in pairs if l["deliveries_per_sec"]]
        shares.append(per_run)
    if all(shares):
        old, new = (statistics.median(s) for s in shares)
        runs_new = ", ".join(f"{v:.1f}" for v in shares[1])
        print(f"{workload:<11} {'% of loopback':<21} {old:>10.1f} {new:>10.1f} {new / old:>8.2f}   (new runs: {runs_new})")
EOF
