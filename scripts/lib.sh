# shellcheck shell=bash
# Helpers shared by scripts/*.sh and conformance/*/run.sh. Source it; it defines functions and
# a few variables, and changes no shell options.

# The repository root (this file lives in <root>/scripts/).
FERROMQ_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FERROMQ_CACHE=${FERROMQ_CACHE:-$HOME/.cache/ferromq}
# Python virtualenv for the conformance suites (Debian's python3 refuses system-wide pip).
FERROMQ_VENV=${FERROMQ_VENV:-$FERROMQ_CACHE/venv}
FERROMQ_TARGET_MAX_GB=${FERROMQ_TARGET_MAX_GB:-20}

# System packages a build and the test command need (see /work/shared/notes/build.md):
# RocksDB is linked from Debian's librocksdb-dev, and librocksdb-sys' bindgen needs libclang.
# shellcheck disable=SC2034 # used by the scripts that source this file
FERROMQ_BUILD_PACKAGES=(build-essential pkg-config librocksdb-dev libclang1-14 libclang-common-14-dev)
# shellcheck disable=SC2034
FERROMQ_TEST_PACKAGES=(python3 python3-venv)

ferromq_log() { printf '%s\n' "$*" >&2; }

# amq_lock WHO: hold flock $FERROMQ_AMQ_LOCK (default /tmp/ferromq-activemq.lock) on fd 9 for
# the rest of the calling script, waiting up to 30 min for another run of the shared ActiveMQ
# install; nothing when the caller already holds it (FERROMQ_AMQ_LOCKED=1).
amq_lock() {
    [[ -z ${FERROMQ_AMQ_LOCKED:-} ]] || return 0
    local lock=${FERROMQ_AMQ_LOCK:-/tmp/ferromq-activemq.lock}
    exec 9>"$lock"
    if ! flock -n 9; then
        ferromq_log "$1: waiting for $lock (another ActiveMQ run)"
        flock -w 1800 9 || { ferromq_log "$1: $lock still held after 30 min"; exit 1; }
    fi
}

# apt_ensure PKG...: install the packages dpkg does not list as installed. apt on this mirror
# sometimes fails once with "cannot access archive"; every apt step is retried once.
apt_ensure() {
    local missing=() pkg sudo=()
    for pkg in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$pkg")
        fi
    done
    ((${#missing[@]})) || return 0
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || {
            ferromq_log "missing packages: ${missing[*]} (not root and no sudo: install them first)"
            return 1
        }
        sudo=(sudo -n)
    fi
    ferromq_log "installing missing packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq </dev/null || "${sudo[@]}" apt-get update -qq </dev/null
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null \
        || "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
}

# venv_ensure: create $FERROMQ_VENV and install conformance/requirements.txt into it (quietly),
# again only when the requirements file changed.
venv_ensure() {
    local req=$FERROMQ_ROOT/conformance/requirements.txt stamp sum
    stamp=$FERROMQ_VENV/.requirements.sha256
    sum=$(sha256sum "$req" | cut -d' ' -f1)
    if [[ ! -x $FERROMQ_VENV/bin/python ]]; then
        ferromq_log "creating Python venv $FERROMQ_VENV"
        mkdir -p "$(dirname "$FERROMQ_VENV")"
        python3 -m venv "$FERROMQ_VENV"
    fi
    if [[ ! -f $stamp || $(<"$stamp") != "$sum" ]]; then
        ferromq_log "pip install -r conformance/requirements.txt"
        "$FERROMQ_VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$req" \
            || "$FERROMQ_VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$req"
        printf '%s\n' "$sum" >"$stamp"
    fi
}

# target_dir_ensure: export CARGO_TARGET_DIR (default outside the clone, so fresh clones build
# warm) and wipe it when it grows past $FERROMQ_TARGET_MAX_GB.
target_dir_ensure() {
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$FERROMQ_CACHE/target}"
    mkdir -p "$CARGO_TARGET_DIR"
    local kb
    kb=$(du -sk "$CARGO_TARGET_DIR" 2>/dev/null | cut -f1)
    if ((${kb:-0} > FERROMQ_TARGET_MAX_GB * 1024 * 1024)); then
        ferromq_log "CARGO_TARGET_DIR $CARGO_TARGET_DIR is $((kb / 1024 / 1024)) GB (> ${FERROMQ_TARGET_MAX_GB} GB): wiping it"
        rm -rf "$CARGO_TARGET_DIR"
        mkdir -p "$CARGO_TARGET_DIR"
    fi
}

# rocksdb_check: Cargo.lock pins the rocksdb crate to Debian 12's librocksdb-dev 7.8 C API.
rocksdb_check() {
    local version
    version=$(dpkg-query -W -f='${Version}' librocksdb-dev 2>/dev/null || true)
    case $version in
        7.8.*) ;;
        *)
            ferromq_log "librocksdb-dev is '${version:-not installed}', but the rocksdb crate pin needs 7.8.x;"
            ferromq_log "a different Debian release needs a new pin (see docs / build notes)."
            return 1
            ;;
    esac
}
