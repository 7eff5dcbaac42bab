#include "tools/extension.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "classical/sampler.h"
#include "classifiers/classifier.h"
#include "core/error.h"
#include "core/generator.h"
#include "core/version.h"
#include "validation/accel.h"

namespace rareforge::cli {

namespace {

std::string exe_dir() {
  std::error_code ec;
  const auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : p.parent_path().string();
}

void host_add_generator(const GeneratorInfo& info) { register_generator(info); }
void host_add_classifier(const classifiers::ClassifierInfo& info) {
  classifiers::register_classifier(info);
}
void host_set_validation_accelerator(const validation::Accelerator& a) {
  validation::set_accelerator(a);
}

struct LoadResult {
  bool ok = false;
  std::string why;
};

LoadResult try_load() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("RAREFORGE_TORCH_EXTENSION"); env && *env) {
    candidates.push_back(env);
  } else {
    const std::string dir = exe_dir();
    if (!dir.empty()) {
      candidates.push_back(dir + "/librareforge_torch.so");
      candidates.push_back(dir + "/../lib/rareforge/librareforge_torch.so");
    }
  }
  std::string why;
  for (const auto& path : candidates) {
    if (!std::filesystem::exists(path)) continue;
    // RTLD_LOCAL: the module keeps its own copies of rareforge's code; only the entry point is
    // looked up, and it hands its registry entries to ours.
    void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) return {false, fmt::format("cannot load {}: {}", path, dlerror())};
    using Init = int (*)(const ExtensionHost*);
    auto init = reinterpret_cast<Init>(dlsym(h, kTorchExtensionInit));
    if (!init) return {false, fmt::format("{} is not a rareforge extension", path)};
    ExtensionHost host;
    host.version = RAREFORGE_VERSION;
    host.add_generator = &host_add_generator;
    host.add_classifier = &host_add_classifier;
    host.set_validation_accelerator = &host_set_validation_accelerator;
    if (init(&host) != 0)
      return {false, fmt::format("{} was built for another rareforge version", path)};
    return {true, ""};
  }
  return {false, candidates.empty()
                     ? "cannot locate the executable to find librareforge_torch.so"
                     : fmt::format("librareforge_torch.so not found (looked at {}); set "
                                   "RAREFORGE_TORCH_EXTENSION to its path",
                                   candidates.front())};
}

}  // namespace

bool load_torch_extension(std::string* why) {
  static const LoadResult result = try_load();
  if (why) *why = result.why;
  return result.ok;
}

void load_torch_extension_for(const std::string& name) {
  if (classical::find_sampler(name) || find_generator(name) || classifiers::find_classifier(name))
    return;
  load_torch_extension();
}

bool is_generator(const std::string& spec) {
  const std::string name = parse_method_spec(spec).name;
  load_torch_extension_for(name);
  return find_generator(name) != nullptr;
}

Augmenter make_augmenter(const std::string& spec, const std::string& strategy,
                         std::optional<double> max_ratio) {
  const std::string name = parse_method_spec(spec).name;
  load_torch_extension_for(name);
  if (find_generator(name)) {
    make_generator(spec);  // checks the spec now, before any data is read
    return [strategy, max_ratio, spec](const Table& train, const Context& ctx) {
      // A fresh generator per call: every seed and fold trains its own.
      auto g = make_generator(spec);
      return resample_with_generator(*g, train, strategy, max_ratio, ctx);
    };
  }
  if (!classical::find_sampler(name)) {
    std::string names;
    for (const auto& i : classical::sampler_registry())
      names += (names.empty() ? "" : ", ") + i.name;
    for (const auto& g : generator_registry()) names += ", " + g.name;
    std::string why;
    const bool have_torch = load_torch_extension(&why);
    RF_THROW_INPUT("--method: unknown method '{}'; valid methods: {}{}", name, names,
                   have_torch ? "" : " (deep generators unavailable: " + why + ")");
  }
  std::shared_ptr<classical::Sampler> sampler = classical::make_sampler(spec);
  classical::SamplingRequest req;
  req.strategy = strategy;
  req.max_ratio = max_ratio.value_or(0);
  return [sampler, req](const Table& train, const Context& ctx) {
    return sampler->resample(train, req, ctx).table;
  };
}

}  // namespace rareforge::cli
