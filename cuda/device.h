// GPU discovery through the CUDA runtime (cuda/ target). In a build without CUDA the same
// functions exist: cuda_device_count() returns 0 and cuda_require() throws "built without CUDA".
#pragma once

#include <string>

namespace rareforge::cuda {

/// True when this build has the cuda/ kernels compiled in.
bool built_with_cuda();
/// Number of usable CUDA devices (0 when none, when the driver is missing, or in a CPU build).
int device_count();
/// "NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB)" for device `index`, or "" when unavailable.
std::string device_name(int index);
/// Throw Error unless device `index` can be used, saying why (no CUDA build, no GPU, bad index).
void require_device(int index);

}  // namespace rareforge::cuda
