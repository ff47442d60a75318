#!/usr/bin/env bash
# Policy conformance (issue 4): the stomp-py suite in this directory starts ferromq itself,
# with activemq.xml (ActiveMQ's format) or ferromq.toml, restarts it mid-test where needed,
# and checks priority, back-off, dead-letter queues, redrive, scheduling, lanes and expiry.
#
#   conformance/policy/run.sh                 build ferromq (release) and run the suite
#   conformance/policy/run.sh -- -k lanes     extra pytest arguments
#
# Environment: CARGO_TARGET_DIR (default $HOME/.cache/ferromq/target); FERROMQ_BIN to use an
# already built binary; FERROMQ_VENV (Python venv location).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../../scripts/lib.sh
source "$HERE/../../scripts/lib.sh"

pytest_args=()
while (($#)); do
    case $1 in
        --) shift; pytest_args=("$@"); break ;;
        -h | --help)
            sed -n '2,10p' "$0"
            exit 0
            ;;
        *)
            ferromq_log "run.sh: unknown argument '$1' (pytest arguments go after --)"
            exit 2
            ;;
    esac
    shift
done

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
FERROMQ_BIN=$bin STOMP_HOST=127.0.0.1 \
    "$FERROMQ_VENV/bin/python" -m pytest -q ${pytest_args[@]+"${pytest_args[@]}"}
