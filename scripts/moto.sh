# Sourced by scripts/test.sh and scripts/aws-bench.sh: the venv with the Python test tools, and
# moto (DynamoDB and SQS) on a free loopback port, stopped when the calling script exits.

venv=.venv

ensure_venv() {
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv"
    fi
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
}

# Starts moto and sets HOOKLINE_TEST_AWS_ENDPOINT and moto_pid; `moto_log` receives its output.
start_moto() {
    local port
    port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$moto_log" 2>&1 &
    moto_pid=$!
    export HOOKLINE_TEST_AWS_ENDPOINT="http://127.0.0.1:$port"
    for _ in $(seq 1 100); do
        if "$venv/bin/python" -c "import urllib.request; urllib.request.urlopen('$HOOKLINE_TEST_AWS_ENDPOINT/moto-api/')" 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$moto_pid" 2>/dev/null; then
            cat "$moto_log" >&2
            echo "the AWS emulator (moto) did not start" >&2
            return 1
        fi
        sleep 0.2
    done
    echo "the AWS emulator (moto) did not answer within 20 s" >&2
    return 1
}

stop_moto() {
    if [ -n "${moto_pid:-}" ]; then
        kill "$moto_pid" 2>/dev/null || true
        wait "$moto_pid" 2>/dev/null || true
    fi
}
