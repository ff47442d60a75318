#!/usr/bin/env bash
# Run ferromq on its embedded defaults: `bash scripts/run-broker.sh [ferromq args...]`.
# Installs the missing system packages a build needs, then
# `cargo run --release --locked -p ferromq -- "$@"` with CARGO_TARGET_DIR defaulting to
# $HOME/.cache/ferromq/target.
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$FERROMQ_ROOT"

apt_ensure "${FERROMQ_BUILD_PACKAGES[@]}"
target_dir_ensure
exec cargo run --release --locked -p ferromq -- "$@"
