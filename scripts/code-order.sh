#!/usr/bin/env bash
# Makes `local/code-order.txt`, the functions a server runs, which `local/build.rs` has the
# linker lay out side by side (README, "The binary's layout"). It builds the release binary,
# runs the benchmark's workloads against a server under callgrind (valgrind; slow, about five
# minutes), and keeps the names of the binary's functions that ran.
#
# Function names carry a hash of their crate's build settings and dependencies, so run it
# again after a change to Cargo.lock or to the release profile: names that no longer match are
# skipped (the layout degrades; nothing breaks), and the script prints how many still do.
#
#   scripts/code-order.sh [bench arguments, default: --only throughput,fanout,latency]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
[ $# -gt 0 ] || set -- --only throughput,fanout,latency

cargo build --release --locked -q -p hookline
work=target/code-order
rm -rf "$work" && mkdir -p "$work"
server=$PWD/$work/hookline
cp target/release/hookline "$server"

if [ -s local/code-order.txt ]; then
    listed=$(wc -l < local/code-order.txt)
    found=$(nm --defined-only "$server" | awk '{print $3}' | sort -u | comm -12 - <(sort -u local/code-order.txt) | wc -l)
    echo "the current list: $found of its $listed functions are in this build"
fi

# The benchmark stops a server with SIGKILL, which callgrind cannot survive to write its
# output; the wrapper leaves the server running, and it is stopped below with SIGTERM.
cat > "$work/server.sh" <<EOF
#!/usr/bin/env bash
valgrind --tool=callgrind --demangle=no --callgrind-out-file=$PWD/$work/callgrind.out.%p \
    --log-file=$PWD/$work/valgrind.log "$server" "\$@" &
echo \$! >> $PWD/$work/pids
wait
EOF
chmod +x "$work/server.sh"
target/release/hookline bench --runs 1 --server "$work/server.sh" "$@"
while read -r pid; do kill -TERM "$pid" 2>/dev/null || true; done < "$work/pids"
while read -r pid; do while kill -0 "$pid" 2>/dev/null; do sleep 1; done; done < "$work/pids"

scripts/code-order.py "$server" "$work"/callgrind.out.* > local/code-order.txt
echo "local/code-order.txt: $(wc -l < local/code-order.txt) functions; build again to lay them out"
