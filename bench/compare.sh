#!/usr/bin/env bash
# Side-by-side benchmark of ferromq and ActiveMQ 5.17 (issue 6), one command:
#
#   bash bench/compare.sh [--quick] [--rounds N] [--no-activemq] [--markdown FILE]
#                         [--debug-build] [-- ARGS for `ferromq-bench compare`]
#
# Builds ferromq and ferromq-bench (release), installs Debian's ActiveMQ 5.17 if missing,
# starts it on loopback through bench/activemq-priority.sh (the conformance reference plus
# prioritizedMessages="true" on every queue, as ferromq dispatches by priority), and runs
# `ferromq-bench compare`: start-up (empty and with a persistent backlog), RSS, then every load
# workload against both brokers in turn for N rounds (default 3, --quick 1). Prints the
# machine, a table of medians and ferromq/ActiveMQ ratios and the issue's targets (markdown)
# on stdout, progress on stderr.
#
# --markdown FILE writes docs/performance.md-style output: bench/performance-preface.md, then
# the results; a "## Profile" section already in FILE is kept (it is written by hand).
# --no-activemq measures ferromq only (the CI smoke: with --quick, about 20 s once built).
# --debug-build uses the debug binaries (no figures worth quoting; a faster smoke build).
# While ActiveMQ runs the script holds flock $FERROMQ_AMQ_LOCK (default
# /tmp/ferromq-activemq.lock) so two runs never share the machine with two JVMs; set
# FERROMQ_AMQ_LOCKED=1 if the caller already holds it. FERROMQ_AMQ_DIR sets ActiveMQ's work
# dir (the start-up runs use DIR-start); KEEP_BENCH_DIR=1 keeps the scratch dir.
set -euo pipefail

# shellcheck source=SCRIPTDIR/../scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$FERROMQ_ROOT"

invocation="$*"
args=() activemq=1 markdown='' profile=release
while (($#)); do
    case $1 in
        --quick) args+=(--quick) ;;
        --rounds)
            args+=(--rounds "${2:?--rounds needs a number}")
            shift
            ;;
        --no-activemq) activemq= ;;
        --markdown)
            markdown=${2:?--markdown needs a file}
            shift
            ;;
        --debug-build) profile=debug ;;
        --)
            shift
            args+=("$@")
            break
            ;;
        -h | --help)
            sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            ferromq_log "bench/compare.sh: unknown argument $1 (see --help)"
            exit 2
            ;;
    esac
    shift
done

apt_ensure "${FERROMQ_BUILD_PACKAGES[@]}"
target_dir_ensure
release=(--release)
[[ $profile == debug ]] && release=()
# Two builds, as in bench/run.sh: built together, cargo would unify tokio's features and build
# a different ferromq from the one everyone else runs.
cargo build "${release[@]}" --locked -p ferromq
cargo build "${release[@]}" --locked -p ferromq-bench
ferromq_bin=$CARGO_TARGET_DIR/$profile/ferromq
bench_bin=$CARGO_TARGET_DIR/$profile/ferromq-bench

work=$(mktemp -d "${TMPDIR:-/tmp}/ferromq-compare.XXXXXX")
amq_dir=${FERROMQ_AMQ_DIR:-$work/activemq}
amq_script=bench/activemq-priority.sh
out=$work/results.md
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    if [[ -n $activemq ]]; then
        # ferromq-bench stops what it starts; this covers an interrupted run.
        bash "$amq_script" stop "$amq_dir" 2>/dev/null || true
        bash "$amq_script" stop "$amq_dir-start" 2>/dev/null || true
    fi
    if [[ -z ${KEEP_BENCH_DIR:-} ]]; then
        rm -rf "$work"
    else
        ferromq_log "bench/compare.sh: kept $work"
    fi
}
trap cleanup EXIT

amq_args=()
if [[ -n $activemq ]]; then
    bash conformance/reference/activemq.sh install
    amq_lock bench/compare.sh
    amq_args=(--activemq-script "$amq_script" --activemq-dir "$amq_dir")
fi

status=0
"$bench_bin" compare --ferromq "$ferromq_bin" --work-dir "$work" "${amq_args[@]}" "${args[@]}" \
    | tee "$out" || status=$?

if [[ -n $markdown ]]; then
    commit=$(git rev-parse --short HEAD 2>/dev/null || echo '?')
    [[ -z $(git status --porcelain --untracked-files=no 2>/dev/null) ]] || commit="$commit + uncommitted changes"
    profile_section=''
    if [[ -f $markdown ]]; then
        profile_section=$(sed -n '/^## Profile/,$p' "$markdown")
    fi
    {
        cat bench/performance-preface.md
        # shellcheck disable=SC2016 # the backquotes are markdown
        printf '\nThe run below: `bash bench/compare.sh %s`, commit %s.\n\n' "$invocation" "$commit"
        cat "$out"
        if [[ -n $profile_section ]]; then
            printf '\n%s\n' "$profile_section"
        fi
    } >"$markdown.tmp"
    mv "$markdown.tmp" "$markdown"
    ferromq_log "bench/compare.sh: wrote $markdown"
fi
exit "$status"
