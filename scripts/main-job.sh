#!/usr/bin/env bash
# The README's main-job command: install what is missing, build, and run the main job on the
# bundled data (data/lending_club.csv). Outputs go to out/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
mkdir -p out
rf=./build/tools/rareforge
$rf inspect data/lending_club.csv
$rf resample data/lending_club.csv --method smote:k=5 --seed 1 --out out/lending_club_smote.csv
$rf resample data/lending_club.csv --method borderline-smote:kind=1 --seed 1 \
  --out out/lending_club_borderline.h5
$rf inspect out/lending_club_smote.csv
