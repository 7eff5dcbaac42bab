#include "cuda/device.h"

#include <cuda_runtime.h>

#include <fmt/format.h>

#include "core/error.h"

namespace rareforge::cuda {

bool built_with_cuda() { return true; }

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return n;
}

std::string device_name(int index) {
  cudaDeviceProp prop{};
  if (index < 0 || index >= device_count() || cudaGetDeviceProperties(&prop, index) != cudaSuccess)
    return "";
  return fmt::format("{} (sm_{}{}, {:.1f} GiB)", prop.name, prop.major, prop.minor,
                     static_cast<double>(prop.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0));
}

void require_device(int index) {
  const int n = device_count();
  if (n == 0)
    throw Error(
        "--device cuda: no CUDA GPU is visible (driver missing or no device); use --device cpu");
  if (index < 0 || index >= n)
    throw InputError(
        fmt::format("--device cuda:{}: only {} GPU(s) visible (0..{})", index, n, n - 1));
}

}  // namespace rareforge::cuda
