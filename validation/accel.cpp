#include "validation/accel.h"

#include <memory>
#include <mutex>

#include "core/error.h"
#include "validation/mmd.h"

namespace rareforge::validation {
namespace {

std::mutex& accel_mutex() {
  static std::mutex m;
  return m;
}

std::unique_ptr<Accelerator>& accel_slot() {
  static std::unique_ptr<Accelerator> a;
  return a;
}

}  // namespace

void set_accelerator(const Accelerator& a) {
  std::lock_guard<std::mutex> lock(accel_mutex());
  accel_slot() = std::make_unique<Accelerator>(a);
}

const Accelerator* accelerator() {
  std::lock_guard<std::mutex> lock(accel_mutex());
  return accel_slot().get();
}

void check_device(const std::string& device) {
  if (device == "cpu") return;
  const Accelerator* a = accelerator();
  RF_CHECK_INPUT(a != nullptr,
                 "--device {}: the device kernels live in the LibTorch extension "
                 "(librareforge_torch.so), which is not loaded; install it next to the rareforge "
                 "binary or use --device cpu",
                 device);
  a->check_device(device);
}

void mmd_sums_on(const std::string& device, const MatrixRM& X, const MatrixRM& Y, double s,
                 size_t tile, int threads, double out[6]) {
  if (device == "cpu") return mmd_sums(X, Y, s, tile, threads, out);
  check_device(device);
  accelerator()->mmd_sums(X, Y, s, device, out);
}

DcrNearest dcr_nearest_on(const std::string& device, const MatrixRM& reference,
                          const MatrixRM& queries, int threads) {
  if (device == "cpu") return dcr_nearest(reference, queries, threads);
  check_device(device);
  return accelerator()->dcr_nearest(reference, queries, device);
}

}  // namespace rareforge::validation
