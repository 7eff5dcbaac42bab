#!/usr/bin/env bash
# Run HERE (the Debian development machine): download, without installing, the Debian packages
# that the GPU machine lacks, into .device-debs/ (git-ignored; pass it to the device tool with
# carry=[".device-debs"]). The GPU machine has PyTorch (LibTorch), CMake, ninja and nvcc but no
# other libraries and no network. scripts/device-build.sh unpacks these there with `dpkg -x`
# into a prefix (never into /).
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.device-debs
mkdir -p "$dest"
pkgs=(
  # headers-only
  libeigen3-dev nlohmann-json3-dev libcli11-dev libnanoflann-dev
  # fmt, HDF5 (C and C++), XGBoost, GoogleTest, and the shared libraries they need at run time
  libfmt-dev libfmt9 libhdf5-dev libhdf5-103-1 libhdf5-cpp-103-1 libhdf5-hl-100 libhdf5-hl-cpp-100
  libsz2 libaec0 libaec-dev libxgboost-dev libxgboost0 xgboost libgtest-dev libgmock-dev
  libdmlc0 libdmlc-dev libsvm-dev libsvm3 libssl-dev
)
cd "$dest"
apt-get download "${pkgs[@]}"
du -sh .
