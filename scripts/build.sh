#!/usr/bin/env bash
# Configure and build rareforge into build/ (Release, Ninja, ccache when present).
# Extra arguments go to the CMake configure step, e.g. -DRAREFORGE_WITH_CUDA=OFF.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build build -j "$jobs"
