#!/usr/bin/env bash
# Benchmarks: bash bench/run.sh [--quick] [--no-activemq] [--rounds N] [--backlog N]
#             bash bench/run.sh priority-drain [--quick] [--no-activemq] [--messages N]
#
# Builds ferromq and ferromq-bench (release), starts the ActiveMQ 5.17 reference on loopback
# (conformance/reference/activemq.sh), then runs:
#   1. the fsync probe (write 256 B + fdatasync) in the scratch dir: the physical limit;
#   2. persistent-send with 1 and 16 producers against ferromq and ActiveMQ, alternating;
#   3. (ActiveMQ stopped) recovery: fill ferromq with a backlog, SIGTERM, restart, time to the
#      first MESSAGE, drain and check order.
# `priority-drain` instead runs only that scenario, against ferromq and an ActiveMQ with
# prioritizedMessages (bench/activemq-priority.sh): a backlog of N (default 50,000) persistent
# messages with mixed priorities, drained by one consumer at prefetch 1 and 100; priority
# inversions, FIFO within a priority and the drain rate.
# Prints tables to stdout (progress to stderr). --quick uses small counts (a smoke run).
# Benchmarks measure and assert nothing; they are not part of scripts/test.sh. Everything
# binds 127.0.0.1; scratch data goes to a temporary dir (KEEP_BENCH_DIR=1 keeps it).
# See docs/benchmarks.md.
set -euo pipefail

# shellcheck source=SCRIPTDIR/../scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$FERROMQ_ROOT"

quick=() recovery=() rounds=() activemq=1 scenario=all messages=
if [[ ${1:-} == priority-drain ]]; then
    scenario=priority-drain
    shift
fi
while (($#)); do
    case $1 in
        --quick)
            quick=(--quick)
            recovery=(--backlog 20000 --check 5000 --restart-timeout 20 --restarts 2)
            messages=${messages:-2000}
            ;;
        --messages)
            [[ $scenario == priority-drain ]] || {
                ferromq_log "bench/run.sh: --messages is for priority-drain (see --help)"
                exit 2
            }
            messages=${2:?--messages needs a number}
            shift
            ;;
        --no-activemq) activemq= ;;
        --rounds)
            rounds=(--rounds "${2:?--rounds needs a number}")
            shift
            ;;
        --backlog)
            recovery+=(--backlog "${2:?--backlog needs a number}")
            shift
            ;;
        -h | --help)
            sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            ferromq_log "bench/run.sh: unknown argument $1 (see --help)"
            exit 2
            ;;
    esac
    shift
done

apt_ensure "${FERROMQ_BUILD_PACKAGES[@]}"
target_dir_ensure
# Two builds, not one `-p ferromq -p ferromq-bench`: built together, cargo unifies tokio's
# features across both and rebuilds ferromq's dependency tree differently from the
# `cargo build -p ferromq` everyone else runs (and the binary measured would differ too).
cargo build --release --locked -p ferromq
cargo build --release --locked -p ferromq-bench
ferromq_bin=$CARGO_TARGET_DIR/release/ferromq
bench_bin=$CARGO_TARGET_DIR/release/ferromq-bench

work=$(mktemp -d "${TMPDIR:-/tmp}/ferromq-bench.XXXXXX")
amq_dir=$work/activemq
amq_running=
# priority-drain needs its own ActiveMQ: the reference configuration plus prioritizedMessages.
amq_script=conformance/reference/activemq.sh
[[ $scenario == priority-drain ]] && amq_script=bench/activemq-priority.sh
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    if [[ -n $amq_running ]]; then
        FERROMQ_AMQ_DIR=$amq_dir bash "$amq_script" stop "$amq_dir" || true
    fi
    if [[ -z ${KEEP_BENCH_DIR:-} ]]; then
        rm -rf "$work"
    else
        ferromq_log "bench/run.sh: kept $work"
    fi
}
trap cleanup EXIT

amq_args=()
if [[ -n $activemq ]]; then
    amq_running=1
    amq_port=$(bash "$amq_script" start "$amq_dir")
    amq_args=(--activemq "127.0.0.1:$amq_port")
fi

if [[ $scenario == priority-drain ]]; then
    "$bench_bin" priority-drain --ferromq "$ferromq_bin" --work-dir "$work" \
        "${amq_args[@]}" ${messages:+--messages "$messages"}
    exit
fi

status=0
"$bench_bin" suite --ferromq "$ferromq_bin" --work-dir "$work" --skip-recovery \
    "${amq_args[@]}" "${quick[@]}" "${rounds[@]}" || status=$?

if [[ -n $amq_running ]]; then
    # The reference is not part of the recovery scenario: stop it so it costs no CPU there.
    bash conformance/reference/activemq.sh stop "$amq_dir" || true
    amq_running=
fi

echo
"$bench_bin" recovery --ferromq "$ferromq_bin" --work-dir "$work" "${recovery[@]}" || status=$?
exit "$status"
