#!/usr/bin/env bash
# STOMP conformance: drive a broker with the stomp-py suite and diff the outcomes against
# conformance/stomp/expected.json (architecture.md §2.17).
#
#   conformance/stomp/run.sh                     build + start ferromq, run, compare
#   conformance/stomp/run.sh --reference         the same suite against Debian's ActiveMQ 5.17
#   conformance/stomp/run.sh --reference --update   ... and rewrite expected.json from that run
#   conformance/stomp/run.sh [...] -- -k nack -x    extra pytest arguments (compares that subset)
#
# Environment: CARGO_TARGET_DIR (default $HOME/.cache/ferromq/target); FERROMQ_BIN to use an
# already built binary instead of `cargo build`; FERROMQ_VENV (Python venv location).
# Exit status is non-zero when any result differs from expected.json or the broker won't start.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../../scripts/lib.sh
source "$HERE/../../scripts/lib.sh"

LISTEN_TIMEOUT=30
target=ferromq
update=0
pytest_args=()
while (($#)); do
    case $1 in
        --reference) target=activemq ;;
        --update) update=1 ;;
        --) shift; pytest_args=("$@"); break ;;
        -h | --help)
            sed -n '2,13p' "$0"
            exit 0
            ;;
        *)
            ferromq_log "run.sh: unknown argument '$1' (pytest arguments go after --)"
            exit 2
            ;;
    esac
    shift
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ferromq-stomp-conformance.XXXXXX")
BROKER_PID=
BROKER_LOG=$WORK/broker.log
AMQ_DIR=$WORK/activemq

cleanup() {
    local rc=$?
    if [[ -n $BROKER_PID ]] && kill -0 "$BROKER_PID" 2>/dev/null; then
        kill -TERM "$BROKER_PID" 2>/dev/null || true
        for _ in $(seq 40); do
            kill -0 "$BROKER_PID" 2>/dev/null || break
            sleep 0.25
        done
        kill -KILL "$BROKER_PID" 2>/dev/null || true
        wait "$BROKER_PID" 2>/dev/null || true
    fi
    if [[ -d $AMQ_DIR ]]; then
        if ((rc != 0)) && [[ -f $AMQ_DIR/activemq.log ]]; then
            ferromq_log "--- last lines of the ActiveMQ log ---"
            tail -n 30 "$AMQ_DIR/activemq.log" >&2 || true
        fi
        bash "$FERROMQ_ROOT/conformance/reference/activemq.sh" stop "$AMQ_DIR" || true
    fi
    if ((rc != 0)) && [[ -s $BROKER_LOG ]]; then
        ferromq_log "--- last lines of the ferromq log ($BROKER_LOG) ---"
        tail -n 40 "$BROKER_LOG" >&2 || true
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_ferromq() {
    local bin=${FERROMQ_BIN:-} data=$WORK/data line port i
    if [[ -z $bin ]]; then
        target_dir_ensure
        ferromq_log "cargo build --release -p ferromq --locked (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
        (cd "$FERROMQ_ROOT" && cargo build --release -p ferromq --locked)
        bin=$CARGO_TARGET_DIR/release/ferromq
    fi
    [[ -x $bin ]] || { ferromq_log "run.sh: no ferromq binary at $bin"; return 1; }
    mkdir -p "$data"
    : >"$BROKER_LOG"
    "$bin" --bind 127.0.0.1 --stomp-port 0 --admin-port 0 --data-dir "$data" </dev/null >"$WORK/broker.stdout" 2>"$BROKER_LOG" &
    BROKER_PID=$!
    # Wait for e.g. `INFO ferromq: listening protocol=stomp addr=127.0.0.1:40123`; the log may
    # be coloured and the value may be quoted.
    for ((i = 0; i < LISTEN_TIMEOUT * 10; i++)); do
        line=$(sed 's/\x1b\[[0-9;]*m//g' "$BROKER_LOG" \
            | grep 'listening' | grep -E 'protocol="?stomp' | grep -Eo 'addr="?127\.0\.0\.1:[0-9]+' | head -n1 || true)
        if [[ -n $line ]]; then
            port=${line##*:}
            ferromq_log "ferromq pid $BROKER_PID listening for STOMP on 127.0.0.1:$port"
            PORT=$port
            return 0
        fi
        if ! kill -0 "$BROKER_PID" 2>/dev/null; then
            ferromq_log "run.sh: ferromq exited before listening"
            return 1
        fi
        sleep 0.1
    done
    ferromq_log "run.sh: no 'listening ... protocol=stomp ... addr=127.0.0.1:<port>' line within ${LISTEN_TIMEOUT}s"
    return 1
}

start_activemq() {
    PORT=$(bash "$FERROMQ_ROOT/conformance/reference/activemq.sh" start "$AMQ_DIR")
}

apt_ensure "${FERROMQ_TEST_PACKAGES[@]}"
venv_ensure
PORT=
if [[ $target == activemq ]]; then start_activemq; else start_ferromq; fi

results=$WORK/results.json
set +e
(
    cd "$HERE"
    STOMP_HOST=127.0.0.1 STOMP_PORT=$PORT STOMP_TARGET=$target \
        "$FERROMQ_VENV/bin/python" -m pytest -q --results-json "$results" ${pytest_args[@]+"${pytest_args[@]}"}
)
pytest_rc=$?
set -e
# 0 all passed, 1 some failed: compare.py decides. Anything else means the run itself broke.
if ((pytest_rc > 1)) || [[ ! -s $results ]]; then
    ferromq_log "run.sh: pytest did not complete (exit $pytest_rc)"
    exit 1
fi

compare_args=("$HERE/expected.json" "$results")
if ((${#pytest_args[@]})); then compare_args+=(--subset); fi
if ((update)); then compare_args+=(--update); fi
"$FERROMQ_VENV/bin/python" "$HERE/compare.py" "${compare_args[@]}"
