// Device resolution for the deep generators (LibTorch). Kept free of torch headers so that the
// CLI and other targets can include it without LibTorch's compile cost.
#pragma once

#include <string>

#include "core/context.h"

namespace rareforge::generators {

/// Resolve `auto` to cuda:0 when LibTorch sees a GPU, else cpu; check that a requested cuda:N
/// exists (InputError naming --device otherwise).
Device resolve_device(const Device& requested);

/// Number of GPUs LibTorch can use (0 for a CPU-only LibTorch such as Debian's).
int torch_cuda_device_count();

/// "LibTorch 1.13.1" — the version the generators were compiled against.
std::string torch_version();

}  // namespace rareforge::generators
