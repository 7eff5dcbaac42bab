// CPU-only build: the cuda/ entry points exist and say that CUDA support was not built.
#include "core/error.h"
#include "cuda/device.h"

namespace rareforge::cuda {

bool built_with_cuda() { return false; }
int device_count() { return 0; }
std::string device_name(int) { return ""; }
void require_device(int) {
  throw Error(
      "--device cuda: rareforge was built without CUDA support; rebuild with "
      "-DRAREFORGE_WITH_CUDA=ON on a machine with the CUDA toolkit, or use --device cpu");
}

}  // namespace rareforge::cuda
