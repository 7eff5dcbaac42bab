#!/usr/bin/env bash
# Install exactly the Debian packages rareforge needs to build, test and run (idempotent: does
# nothing, quickly, when all are present). Run as root or with sudo available.
#
#   scripts/install-deps.sh            build + test dependencies
#   scripts/install-deps.sh --peers    also the Python peers used by bench/ and by the scripts
#                                      that regenerate test fixtures (scipy, scikit-learn,
#                                      imbalanced-learn, xgboost, pandas)
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build ccache pkg-config
  # libraries (DESIGN.md)
  libtorch-dev libeigen3-dev libfmt-dev libhdf5-dev libxgboost-dev xgboost libcli11-dev
  nlohmann-json3-dev libnanoflann-dev libsvm-dev libssl-dev
  libopenblas0-openmp
  # tests
  libgtest-dev libgmock-dev python3 python3-h5py python3-pandas python3-numpy
)
if [[ "${1:-}" == "--peers" ]]; then
  packages+=(python3-scipy python3-sklearn python3-imblearn python3-xgboost)
  # The reference CTGAN's own dependencies (bench/generators_vs_ctgan.py --ctgan-src).
  packages+=(python3-torch python3-pandas python3-tqdm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
