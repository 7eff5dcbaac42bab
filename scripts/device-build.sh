#!/usr/bin/env bash
# Run THERE (the GPU machine lent by the device tool), from the repository root, after
# scripts/fetch-device-debs.sh here and with .device-debs carried along:
#   bash scripts/device-build.sh [ctest -R args...]
# Unpacks the .debs into $PREFIX (default /tmp/rf-prefix; never /), configures against the
# machine's PyTorch LibTorch with CUDA on, builds, and runs the *_CUDA tests (or the ctest
# arguments given).
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=${PREFIX:-/tmp/rf-prefix}
mkdir -p "$PREFIX"
for d in .device-debs/*.deb; do dpkg -x "$d" "$PREFIX"; done
torch_cmake=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
multi=$PREFIX/usr/lib/x86_64-linux-gnu
export LD_LIBRARY_PATH=$multi:$multi/hdf5/serial:${LD_LIBRARY_PATH:-}
cmake -S . -B build-device -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DRAREFORGE_WITH_CUDA=ON \
  -DCMAKE_PREFIX_PATH="$PREFIX/usr;$multi/cmake;$PREFIX/usr/share/cmake;$torch_cmake" \
  -DHDF5_ROOT="$multi/hdf5/serial" -DHDF5_INCLUDE_DIRS="$PREFIX/usr/include/hdf5/serial" \
  -DCMAKE_CUDA_ARCHITECTURES="80-real;90"
cmake --build build-device -j "$(nproc)"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
if [[ $# -gt 0 ]]; then
  ctest --test-dir build-device --output-on-failure "$@"
else
  ctest --test-dir build-device --output-on-failure -R _CUDA
fi
