#!/usr/bin/env bash
# Benchmarks: bash bench/run.sh [--quick] [--no-activemq] [--rounds N] [--backlog N]
#             bash bench/run.sh priority-drain [--quick] [--no-activemq] [--messages N]
#             bash bench/run.sh routing [--quick] [--no-activemq] [--amq-max-page-size N]
#             bash bench/run.sh selector-dispatch|wildcard-fanout [options above] [-- ARGS]
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
# `routing` runs selector-dispatch (one queue, 100 and 1,000 consumers with distinct
# selectors, with and without unmatched messages left in the queue) and then wildcard-fanout
# (1,000 and 10,000 wildcard topic subscriptions), against ferromq and the reference ActiveMQ;
# each alone with its own name, ARGS after `--` going to `ferromq-bench <name>`.
# --amq-max-page-size N starts ActiveMQ with maxPageSize="N" on every queue instead
# (bench/activemq-priority.sh with AMQ_QUEUE_POLICY).
# Prints tables to stdout (progress to stderr). --quick uses small counts (a smoke run).
# Benchmarks measure and assert nothing; they are not part of scripts/test.sh. Everything
# binds 127.0.0.1; scratch data goes to a temporary dir (KEEP_BENCH_DIR=1 keeps it).
# See docs/benchmarks.md.
set -euo pipefail

# shellcheck source=SCRIPTDIR/../scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$FERROMQ_ROOT"

quick=() recovery=() rounds=() extra=() activemq=1 scenario=all messages='' page_size=''
case ${1:-} in
    priority-drain | routing | selector-dispatch | wildcard-fanout)
        scenario=$1
        shift
        ;;
esac
while (($#)); do
    case $1 in
        --quick)
            quick=(--quick)
            recovery=(--backlog 20000 --check 5000 --restart-timeout 20 --restarts 2)
            if [[ $scenario == priority-drain ]]; then
                messages=${messages:-2000}
            fi
            ;;
        --messages)
            [[ $scenario == priority-drain ]] || {
                ferromq_log "bench/run.sh: --messages is for priority-drain (see --help)"
                exit 2
            }
            messages=${2:?--messages needs a number}
            shift
            ;;
        --amq-max-page-size)
            [[ $scenario == routing || $scenario == selector-dispatch || $scenario == wildcard-fanout ]] || {
                ferromq_log "bench/run.sh: --amq-max-page-size is for the routing scenarios (see --help)"
                exit 2
            }
            page_size=${2:?--amq-max-page-size needs a number}
            [[ $page_size =~ ^[1-9][0-9]*$ ]] || {
                ferromq_log "bench/run.sh: --amq-max-page-size needs a positive number"
                exit 2
            }
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
        --)
            [[ $scenario == selector-dispatch || $scenario == wildcard-fanout ]] || {
                ferromq_log "bench/run.sh: arguments after -- are for selector-dispatch or wildcard-fanout"
                exit 2
            }
            shift
            extra=("$@")
            break
            ;;
        -h | --help)
            sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'
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
# priority-drain needs its own ActiveMQ: the reference configuration plus prioritizedMessages;
# the routing scenarios with --amq-max-page-size the same script with maxPageSize instead.
amq_script=conformance/reference/activemq.sh
[[ $scenario == priority-drain ]] && amq_script=bench/activemq-priority.sh
if [[ -n $page_size ]]; then
    amq_script=bench/activemq-priority.sh
    export AMQ_QUEUE_POLICY="maxPageSize=\"$page_size\""
fi
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

if [[ $scenario == routing || $scenario == selector-dispatch || $scenario == wildcard-fanout ]]; then
    status=0
    names=("$scenario")
    [[ $scenario == routing ]] && names=(selector-dispatch wildcard-fanout)
    for i in "${!names[@]}"; do
        if ((i > 0)) && [[ -n $amq_running ]]; then
            # A fresh ActiveMQ for each scenario: messages a stalled selector run left in its
            # queues keep it busy (paging, expiry scans) and would slow the next scenario.
            bash "$amq_script" stop "$amq_dir" || true
            amq_port=$(bash "$amq_script" start "$amq_dir")
            amq_args=(--activemq "127.0.0.1:$amq_port")
        fi
        pid_args=()
        if [[ -n $amq_running && -f $amq_dir/activemq.pid ]]; then
            pid_args=(--activemq-pid "$(<"$amq_dir/activemq.pid")")
        fi
        echo
        "$bench_bin" "${names[$i]}" --ferromq "$ferromq_bin" --work-dir "$work" \
            "${amq_args[@]}" "${pid_args[@]}" "${quick[@]}" "${extra[@]}" || status=$?
    done
    exit "$status"
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
