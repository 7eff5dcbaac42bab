#!/usr/bin/env bash
# The README's main-job command: install what is missing, build, and run the main job on the
# bundled data: `rareforge demo`, a small arena on data/lending_club.csv. Outputs go to out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
mkdir -p out
# The arena on the bundled data (docs/ARENA.md): leaderboard on stdout, everything in out/demo/.
./build/tools/rareforge demo --out out/demo
