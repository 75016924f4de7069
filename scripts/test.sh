#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test (ctest). Tests that need
# ../shared/models skip with a message when it is absent.
# Usage: scripts/test.sh [preset]   (default | asan)
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-default}"
scripts/setup.sh
scripts/build.sh "$preset"
ctest --preset "$preset" -j "${TF_JOBS:-$(nproc)}"
