#!/usr/bin/env bash
# The project's test command: `bash scripts/test.sh` (CI runs it through .ci/run).
#
# Works on a fresh Debian machine that has the Rust toolchain: installs missing system
# packages and the conformance suite's Python packages, then runs, stopping at the first
# failure: fmt, clippy, tests, doctests, the fuzz crate's stable check, STOMP conformance, a
# smoke run of the benchmark tool, policy conformance.
#
# CARGO_TARGET_DIR defaults to $HOME/.cache/ferromq/target (outside the clone, so fresh clones
# build warm) and is wiped when it grows past 20 GB.
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$FERROMQ_ROOT"

STAGES=()
TOTAL_START=$(date +%s.%N)

elapsed_since() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'; }

summary() {
    local line
    printf '\n==== summary ====\n'
    for line in "${STAGES[@]}"; do printf '%s\n' "$line"; done
    printf '%-28s %8ss\n' "total" "$(elapsed_since "$TOTAL_START")"
}

# stage NAME CMD...: run one step, print its timing, stop everything on failure.
stage() {
    local name=$1 start rc=0
    shift
    printf '\n==== %s ====\n' "$name"
    start=$(date +%s.%N)
    "$@" || rc=$?
    local took
    took=$(elapsed_since "$start")
    if ((rc == 0)); then
        printf '==== %s: ok (%ss) ====\n' "$name" "$took"
        STAGES+=("$(printf '%-28s %8ss  ok' "$name" "$took")")
    else
        printf '==== %s: FAILED (exit %d, %ss) ====\n' "$name" "$rc" "$took"
        STAGES+=("$(printf '%-28s %8ss  FAILED (exit %d)' "$name" "$took" "$rc")")
        summary
        exit "$rc"
    fi
}

setup() {
    apt_ensure "${FERROMQ_BUILD_PACKAGES[@]}" "${FERROMQ_TEST_PACKAGES[@]}"
    rocksdb_check
    venv_ensure
    target_dir_ensure
    printf 'CARGO_TARGET_DIR=%s\n' "$CARGO_TARGET_DIR"
    cargo --version
}

unit_tests() {
    if cargo nextest --version >/dev/null 2>&1; then
        cargo nextest run --workspace --locked
    else
        printf 'cargo-nextest not installed: using cargo test\n'
        cargo test --workspace --locked
    fi
}

fuzz_check() {
    if [[ ! -f fuzz/Cargo.toml ]]; then
        printf 'fuzz/Cargo.toml absent: no fuzz crate to check yet, skipping\n'
        return 0
    fi
    # A sibling of the main target dir: the fuzz crate is outside the workspace and would
    # otherwise fight over (and invalidate) the workspace's build artefacts.
    local fuzz_target
    fuzz_target="$(dirname "$CARGO_TARGET_DIR")/fuzz-target"
    (cd fuzz && CARGO_TARGET_DIR=$fuzz_target cargo test --locked)
}

stage "setup" setup
stage "cargo fmt" cargo fmt --all --check
stage "cargo clippy" cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
stage "tests" unit_tests
stage "doctests" cargo test --doc --workspace --locked
stage "fuzz crate (stable check)" fuzz_check
stage "STOMP conformance" bash conformance/stomp/run.sh
# Smoke run of the benchmark tool (ferromq only, small counts): it starts, sends, receives
# and reports; no figure is checked.
stage "bench smoke" bash bench/compare.sh --quick --no-activemq
stage "policy conformance" bash conformance/policy/run.sh
stage "crash test (short)" bash conformance/crash/run.sh
# The same with 30% of deliveries NACKed and dead-lettered at once: the queue-to-DLQ move.
stage "crash test (DLQ)" bash conformance/crash/run.sh --rounds 3 -- --nack-rate 0.3
stage "full disk" bash conformance/diskfull/run.sh
summary
printf 'all stages passed\n'
