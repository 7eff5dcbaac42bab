// Device kernels for the validation stage's two quadratic metrics: the MMD kernel sums and the
// DCR nearest-row scan. The CPU kernels (mmd.h, dcr.h) are built in; a device path ("cuda",
// "cuda:1", ...) is provided by the LibTorch extension (validation/torch_accel.h, loaded by the
// CLI on demand, tools/extension.h), which registers itself here. Everything else in the report
// (univariate tests, detection, PRDC, the permutation test) stays on the CPU: it is linear or
// subsampled.
//
// Device results: DCR is bit for bit the CPU's (same operations in the same order: subtract,
// abs, min with 1, add column by column); the MMD sums differ from the CPU's only by the order of
// the additions inside the device's matrix product and reductions (~1e-12 relative; tested to
// 1e-9 on the LibTorch CPU device, and on CUDA where one is present).
#pragma once

#include <functional>
#include <string>

#include "core/table.h"
#include "validation/dcr.h"

namespace rareforge::validation {

struct Accelerator {
  /// mmd_sums (mmd.h) with bandwidth s on `device`: the same six sums.
  std::function<void(const MatrixRM& X, const MatrixRM& Y, double s, const std::string& device,
                     double out[6])>
      mmd_sums;
  /// dcr_nearest (dcr.h) on `device`.
  std::function<DcrNearest(const MatrixRM& reference, const MatrixRM& queries,
                           const std::string& device)>
      dcr_nearest;
  /// Throws InputError when `device` is unknown or absent (e.g. "cuda" on a machine without one).
  std::function<void(const std::string& device)> check_device;
};

/// Register the device kernels (the LibTorch extension does, when loaded).
void set_accelerator(const Accelerator& a);
/// The registered kernels, or nullptr.
const Accelerator* accelerator();

/// "cpu" is always valid; any other device needs a registered accelerator that accepts it.
/// Throws InputError naming the device and what to do.
void check_device(const std::string& device);

/// mmd_sums on `device` ("cpu": the built-in kernels with `threads`).
void mmd_sums_on(const std::string& device, const MatrixRM& X, const MatrixRM& Y, double s,
                 size_t tile, int threads, double out[6]);
/// dcr_nearest on `device` ("cpu": the built-in kernels with `threads`).
DcrNearest dcr_nearest_on(const std::string& device, const MatrixRM& reference,
                          const MatrixRM& queries, int threads);

}  // namespace rareforge::validation
