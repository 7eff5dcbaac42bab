// The LibTorch extension of the CLI: the deep generators (ctgan, tvae, ddpm) and the mlp
// classifier live in librareforge_torch.so, which the `rareforge` binary loads only when a
// command names one of them (or lists them). Loading LibTorch costs ~0.5 s of start-up and
// ~300 shared libraries, which commands that never touch it should not pay.
//
// The module is looked for, in order, at $RAREFORGE_TORCH_EXTENSION (a file path), next to the
// executable, and in ../lib/rareforge/ relative to it. It registers its generators and its
// classifier into the executable's registries (core/generator.h, classifiers/classifier.h).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "core/context.h"
#include "core/table.h"

namespace rareforge::cli {

/// Load the extension once. Returns false (and says why in `why`) when it is not installed or
/// does not load; later calls return the first result.
bool load_torch_extension(std::string* why = nullptr);

/// Load the extension if `name` is neither a classical sampler nor an already registered
/// generator/classifier (so built-in methods never pay for LibTorch).
void load_torch_extension_for(const std::string& name);

/// Augment a training table with a method spec: a classical sampler (classical/sampler.h) or a
/// deep generator (fitted on `train`, then sampled up to the plan). Throws InputError for an
/// unknown method (listing the valid ones). Built before any data is read, so a bad spec fails
/// fast.
using Augmenter = std::function<Table(const Table& train, const Context& ctx)>;
Augmenter make_augmenter(const std::string& spec, const std::string& strategy = "auto",
                         std::optional<double> max_ratio = std::nullopt);

/// True if `spec` names a deep generator (after loading the extension if needed).
bool is_generator(const std::string& spec);

}  // namespace rareforge::cli

// ABI between the executable and the module (same compiler and sources: both are built from
// this tree). The module defines `extern "C" int rareforge_torch_extension_init(const
// rareforge::cli::ExtensionHost*)`, returning 0 on success.
namespace rareforge {
struct GeneratorInfo;
namespace classifiers {
struct ClassifierInfo;
}
namespace validation {
struct Accelerator;
}
namespace cli {
struct ExtensionHost {
  int abi = 1;
  const char* version = nullptr;  ///< RAREFORGE_VERSION of the executable
  void (*add_generator)(const GeneratorInfo&) = nullptr;
  void (*add_classifier)(const classifiers::ClassifierInfo&) = nullptr;
  /// The validation stage's device kernels (validation/accel.h).
  void (*set_validation_accelerator)(const validation::Accelerator&) = nullptr;
};
inline constexpr const char* kTorchExtensionInit = "rareforge_torch_extension_init";
}  // namespace cli
}  // namespace rareforge
