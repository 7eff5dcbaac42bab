#!/usr/bin/env bash
# Run THERE (the GPU machine lent by the device tool), from the repository root, after
# scripts/fetch-device-debs.sh here and with .device-debs carried along:
#   bash scripts/device-build.sh [ctest -R args...]
# Unpacks the .debs into $PREFIX (default /tmp/rf-prefix; never /), configures against the
# machine's PyTorch LibTorch with CUDA on, builds, and runs the *_CUDA tests (or the ctest
# arguments given). Environment: TARGETS (default: the CLI, the two GPU benchmarks and the test
# programs that hold *_CUDA tests; "all" builds everything), BUILD (default build-device),
# TORCH_CMAKE (default: PyTorch's cmake_prefix_path), and OUT (the build log goes to
# $OUT/device-build.log when set).
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=${PREFIX:-/tmp/rf-prefix}
build=${BUILD:-build-device}
targets=${TARGETS:-rareforge bench_generators bench_validation test_ddpm test_validation_torch_accel test_generators_torch_util}
log=${OUT:-.}/device-build.log
mkdir -p "$PREFIX"
for d in .device-debs/*.deb; do dpkg -x "$d" "$PREFIX"; done
torch_cmake=${TORCH_CMAKE:-$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')}
# Debian's multiarch headers (openssl/opensslconf.h) sit in $PREFIX/usr/include/x86_64-linux-gnu.
multi=$PREFIX/usr/lib/x86_64-linux-gnu
export LD_LIBRARY_PATH=$multi:$multi/hdf5/serial:${LD_LIBRARY_PATH:-}
{
  echo "# device-build $(date -u +%FT%TZ) on $(nproc) cores; torch cmake: $torch_cmake"
  cmake --version | head -1
  gcc --version | head -1
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRAREFORGE_WITH_CUDA=ON \
    -DCMAKE_PREFIX_PATH="$PREFIX/usr;$multi/cmake;$PREFIX/usr/share/cmake;$torch_cmake" \
    -DHDF5_ROOT="$multi/hdf5/serial" -DHDF5_INCLUDE_DIRS="$PREFIX/usr/include/hdf5/serial" \
    -DOPENSSL_ROOT_DIR="$PREFIX/usr" -DCMAKE_CUDA_ARCHITECTURES="80-real;90" \
    -DCMAKE_CXX_STANDARD_INCLUDE_DIRECTORIES="$PREFIX/usr/include/x86_64-linux-gnu"
  if [[ $targets == all ]]; then
    cmake --build "$build" -j "$(nproc)" -- -k 0
  else
    cmake --build "$build" -j "$(nproc)" --target $targets -- -k 0
  fi
} 2>&1 | tee "$log"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
if [[ $# -gt 0 ]]; then
  ctest --test-dir "$build" --output-on-failure "$@"
else
  ctest --test-dir "$build" --output-on-failure -R _CUDA
fi
