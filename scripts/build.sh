#!/usr/bin/env bash
# Configures and builds one CMake preset (default: release). Usage: build.sh [preset]
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-default}"
jobs="${TF_JOBS:-$(nproc)}"
cmake --preset "$preset" >&2
cmake --build --preset "$preset" -j "$jobs" >&2
