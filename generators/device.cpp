#include "generators/device.h"

#include <torch/cuda.h>
#include <torch/version.h>

#include "core/error.h"

namespace rareforge::generators {

int torch_cuda_device_count() {
  return torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0;
}

std::string torch_version() { return std::string("LibTorch ") + TORCH_VERSION; }

Device resolve_device(const Device& requested) {
  Device d = requested;
  const int n = torch_cuda_device_count();
  if (d.kind == Device::Kind::kAuto) {
    d.kind = n > 0 ? Device::Kind::kCuda : Device::Kind::kCpu;
    d.index = 0;
    return d;
  }
  if (d.kind == Device::Kind::kCuda) {
    RF_CHECK_INPUT(n > 0, "--device {}: LibTorch sees no CUDA GPU ({}{}); use --device cpu or auto",
                   d.str(), torch_version(), n == 0 ? ", a CPU-only build or no driver" : "");
    RF_CHECK_INPUT(d.index < n, "--device {}: only {} GPU(s) visible (cuda:0..cuda:{})", d.str(), n,
                   n - 1);
  }
  return d;
}

}  // namespace rareforge::generators
