#!/usr/bin/env bash
# Full-disk check: `bash conformance/diskfull/run.sh`. Builds the release binary and runs
# disk_full.py (needs root for its tmpfs; it skips, successfully, otherwise).
set -euo pipefail
# shellcheck source=../../scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
cd "$FERROMQ_ROOT"
target_dir_ensure
cargo build --release --locked -p ferromq
python3 conformance/diskfull/disk_full.py "$CARGO_TARGET_DIR/release/ferromq"
