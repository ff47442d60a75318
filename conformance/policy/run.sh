#!/usr/bin/env bash
# Policy conformance (issue 4): the stomp-py suite in this directory starts ferromq itself,
# with activemq.xml (ActiveMQ's format) or ferromq.toml, restarts it mid-test where needed,
# and checks priority, back-off, dead-letter queues, redrive, scheduling, lanes and expiry.
#
#   conformance/policy/run.sh                 build ferromq (release) and run the suite
#   conformance/policy/run.sh --reference     the activemq.xml tests against Debian's ActiveMQ
#                                             5.17 started with the same file (REFERENCE.md)
#   conformance/policy/run.sh -- -k lanes     extra pytest arguments
#
# Environment: CARGO_TARGET_DIR (default $HOME/.cache/ferromq/target); FERROMQ_BIN to use an
# already built binary; FERROMQ_VENV (Python venv location). With --reference the run holds
# flock $FERROMQ_AMQ_LOCK (default /tmp/ferromq-activemq.lock), as every user of the shared
# ActiveMQ install does; FERROMQ_AMQ_LOCKED=1 if the caller already holds it. KEEP_LOGS=1
# keeps ActiveMQ's work dir (config, log) and prints where.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../../scripts/lib.sh
source "$HERE/../../scripts/lib.sh"

target=ferromq
pytest_args=()
while (($#)); do
    case $1 in
        --reference) target=activemq ;;
        --) shift; pytest_args=("$@"); break ;;
        -h | --help)
            sed -n '2,15p' "$0"
            exit 0
            ;;
        *)
            ferromq_log "run.sh: unknown argument '$1' (pytest arguments go after --)"
            exit 2
            ;;
    esac
    shift
done

# Reference mode: the suite itself starts (and restarts) ActiveMQ through
# conformance/reference/activemq.sh with AMQ_CONFIG=activemq.xml, in a dir under $WORK.
if [[ $target == activemq ]]; then
    AMQ_SH=$FERROMQ_ROOT/conformance/reference/activemq.sh
    bash "$AMQ_SH" install
    apt_ensure "${FERROMQ_TEST_PACKAGES[@]}"
    venv_ensure
    amq_lock conformance/policy/run.sh
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/ferromq-policy-reference.XXXXXX")
    # Stops a broker a killed or timed-out pytest left running, before the lock is let go.
    # shellcheck disable=SC2317 # called by the EXIT trap
    cleanup() {
        local d
        for d in "$WORK"/*/activemq; do
            if bash "$AMQ_SH" status "$d" >/dev/null 2>&1; then
                KEEP_AMQ_DIR=1 bash "$AMQ_SH" stop "$d" || true
            fi
        done
        if [[ -n ${KEEP_LOGS:-} ]]; then ferromq_log "run.sh: kept $WORK"; else rm -rf "$WORK"; fi
    }
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    cd "$HERE"
    # A restart test starts ActiveMQ twice: more room than pytest.ini's 120 s per test.
    # -rs lists every skip with its reason.
    POLICY_WORK=$WORK STOMP_HOST=127.0.0.1 STOMP_TARGET=activemq \
        "$FERROMQ_VENV/bin/python" -m pytest -q -rs --timeout 300 ${pytest_args[@]+"${pytest_args[@]}"}
    exit
fi

bin=${FERROMQ_BIN:-}
if [[ -z $bin ]]; then
    target_dir_ensure
    ferromq_log "cargo build --release -p ferromq --locked (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
    (cd "$FERROMQ_ROOT" && cargo build --release -p ferromq --locked)
    bin=$CARGO_TARGET_DIR/release/ferromq
fi
[[ -x $bin ]] || { ferromq_log "run.sh: no ferromq binary at $bin"; exit 1; }

apt_ensure "${FERROMQ_TEST_PACKAGES[@]}"
venv_ensure
cd "$HERE"
FERROMQ_BIN=$bin STOMP_HOST=127.0.0.1 STOMP_TARGET=ferromq \
    "$FERROMQ_VENV/bin/python" -m pytest -q ${pytest_args[@]+"${pytest_args[@]}"}
