// librareforge_torch.so: the LibTorch part of the CLI (see tools/extension.h). Registers the
// deep generators and the mlp classifier in this module's registries, then hands the entries to
// the executable's, and hands over the validation stage's device kernels.
#include "classifiers/classifier.h"
#include "classifiers/mlp.h"
#include "core/generator.h"
#include "core/version.h"
#include "generators/register.h"
#include "tools/extension.h"
#include "validation/torch_accel.h"

extern "C" __attribute__((visibility("default"))) int rareforge_torch_extension_init(
    const rareforge::cli::ExtensionHost* host) {
  using namespace rareforge;
  if (!host || host->abi != 1 || !host->version || std::string(host->version) != RAREFORGE_VERSION)
    return 1;
  generators::register_all();
  classifiers::register_mlp();
  for (const auto& info : generator_registry()) host->add_generator(info);
  if (const auto* mlp = classifiers::find_classifier("mlp")) host->add_classifier(*mlp);
  if (host->set_validation_accelerator)
    host->set_validation_accelerator(validation::torch_accelerator());
  return 0;
}
