# Sourced by scripts/test.sh, scripts/aws-bench.sh and scripts/aws-fault-run.sh: the venv with the
# Python test tools, and moto (DynamoDB and SQS) on free loopback ports, stopped when the calling
# script exits.

venv=.venv
moto_pids=()

ensure_venv() {
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv"
    fi
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
}

# Starts one moto server (the command in $2 and on, moto_server by default) on a free loopback
# port and exports its endpoint as the variable named $1; `moto_log` receives its output.
start_moto_as() {
    local variable=$1 port endpoint pid
    shift
    local server=("$@")
    [ ${#server[@]} -gt 0 ] || server=("$venv/bin/moto_server")
    port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "${server[@]}" -H 127.0.0.1 -p "$port" >>"$moto_log" 2>&1 &
    pid=$!
    moto_pids+=("$pid")
    endpoint="http://127.0.0.1:$port"
    export "$variable=$endpoint"
    for _ in $(seq 1 100); do
        if "$venv/bin/python" -c "import urllib.request; urllib.request.urlopen('$endpoint/moto-api/')" 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            cat "$moto_log" >&2
            echo "the AWS emulator (moto) did not start" >&2
            return 1
        fi
        sleep 0.2
    done
    echo "the AWS emulator (moto) did not answer within 20 s" >&2
    return 1
}

# moto for every service the tests use, at HOOKLINE_TEST_AWS_ENDPOINT.
start_moto() {
    start_moto_as HOOKLINE_TEST_AWS_ENDPOINT
}

# A second moto for SQS alone, at HOOKLINE_TEST_SQS_ENDPOINT, for long runs: moto serves each
# process on one core, and its SQS walks every queued message on each call
# (scripts/moto_sqs_server.py takes the quadratic part of that out).
start_sqs_moto() {
    start_moto_as HOOKLINE_TEST_SQS_ENDPOINT "$venv/bin/python" scripts/moto_sqs_server.py
}

stop_moto() {
    local pid
    for pid in "${moto_pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}
