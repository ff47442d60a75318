#!/usr/bin/env bash
# Crash consistency of durable messages: SIGKILL ferromq at random moments under load, restart it
# on the same data directory, and check that no receipted message is lost and no ACK-receipted
# message comes back (conformance/crash/crash_test.py has the details).
#
#   conformance/crash/run.sh                       short run (CI): 5 rounds, well under 60 s
#   conformance/crash/run.sh --rounds 300          long run (record the result in docs)
#   conformance/crash/run.sh --seed 1234           reproduce a run's random choices
#   conformance/crash/run.sh --keep                keep the work dir (data dir, broker logs)
#   conformance/crash/run.sh --reference --rounds 3   the same against Debian's ActiveMQ 5.17 with
#                                                  KahaDB (checks the harness; starts take seconds)
#   conformance/crash/run.sh -- --drain-every 5    further crash_test.py options after --
#   conformance/crash/run.sh --rounds 3 -- --nack-rate 0.3   NACK 30%: dead-lettering under crashes
#
# Environment: CARGO_TARGET_DIR (default $HOME/.cache/ferromq/target); FERROMQ_BIN to use an
# already built binary instead of `cargo build`. Needs only python3 (no venv).
# Exit status: 0 ok; 1 loss, resurrection or protocol error; 2 the harness could not run.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../../scripts/lib.sh
source "$HERE/../../scripts/lib.sh"

rounds=5
seed=
keep=0
reference=0
extra=()
while (($#)); do
    case $1 in
        --rounds) rounds=${2:?--rounds needs a value}; shift ;;
        --seed) seed=${2:?--seed needs a value}; shift ;;
        --keep) keep=1 ;;
        --reference) reference=1 ;;
        --) shift; extra=("$@"); break ;;
        -h | --help)
            sed -n '2,17p' "$0"
            exit 0
            ;;
        *)
            ferromq_log "run.sh: unknown argument '$1' (crash_test.py options go after --)"
            exit 2
            ;;
    esac
    shift
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { ferromq_log "run.sh: --rounds must be a positive integer"; exit 2; }

if ((reference)); then
    bash "$FERROMQ_ROOT/conformance/reference/activemq.sh" install
    target_args=(--reference)
else
    bin=${FERROMQ_BIN:-}
    if [[ -z $bin ]]; then
        target_dir_ensure
        ferromq_log "cargo build --release -p ferromq --locked (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
        (cd "$FERROMQ_ROOT" && cargo build --release -p ferromq --locked)
        bin=$CARGO_TARGET_DIR/release/ferromq
    fi
    [[ -x $bin ]] || { ferromq_log "run.sh: no ferromq binary at $bin"; exit 2; }
    target_args=(--bin "$bin")
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ferromq-crash.XXXXXX")
cleanup() {
    local rc=$?
    if ((keep)); then
        ferromq_log "run.sh: work dir kept: $WORK"
    elif ((rc != 0)); then
        # keep the evidence of a failed run, but not the (possibly large) data dir
        rm -rf "$WORK/data"
        ferromq_log "run.sh: broker logs kept in $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

python3 "$HERE/crash_test.py" --self-test

args=("${target_args[@]}" --work "$WORK/run" --rounds "$rounds")
[[ -n $seed ]] && args+=(--seed "$seed")
# A backstop over the harness' own bounded waits: a round takes a few seconds (ActiveMQ: ~10 s).
limit=$((120 + rounds * (reference ? 120 : 30)))
timeout --kill-after=10 "$limit" python3 "$HERE/crash_test.py" "${args[@]}" ${extra[@]+"${extra[@]}"}
