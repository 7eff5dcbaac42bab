// Deep generators (ctgan, tvae, ddpm): the interface every one implements, and the registry.
//
// The interface and the registry are torch-free so that everything can name a generator; the
// implementations live in generators/ (LibTorch) and register themselves when their library is
// loaded (core/extension.h loads it on demand in the CLI; programs that link
// rareforge_generators call generators::register_all()).
//
//   auto gen = make_generator("ctgan:epochs=10");     // configure only
//   gen->fit(train, ctx);                             // the work: deterministic for seed+device
//   Table rows = gen->sample(100, "default", {}, ctx);// exactly 100 rows of class "default"
//   gen->save("m.rfm");                               // one file: model, optimiser, transformer,
//   auto back = load_generator("m.rfm", ctx);         //   config, schema, rareforge version
//
// Contract shared by all generators
//   * fit: `train` has a target with >= 2 classes and >= 1 row; any mix of numeric and
//     categorical columns, missing values allowed (the transformer encodes them). Progress
//     (epoch, losses, ETA) on stderr unless ctx.quiet. A NaN/Inf loss stops training with a
//     TrainingDiverged error naming the epoch; the object keeps the last good state (fitted()
//     says whether there is one; `rareforge fit` then saves it to --model).
//   * sample(n, cls, where, ctx): exactly n rows, all of target class `cls` (a category name of
//     the training target), each with where[i].first == where[i].second for categorical
//     conditions (generators that cannot condition on a column throw InputError saying so).
//     The result has the training schema (same columns, kinds, categories, target) and
//     provenance synthetic=1, method=spec(), parent=neighbor=-1, gap=NaN. Deterministic for
//     ctx.seed and the device. An unknown class / column / value is an InputError listing the
//     valid ones.
//   * save/load: one file whose first line is the JSON header described at CheckpointHeader;
//     a model trained on CUDA loads and samples on the CPU. Loaded models sample the same rows
//     (same seed, same device) as the object that saved them.
//   * fit with ctx.device cuda requires a CUDA build and a GPU (clear Error otherwise); `auto`
//     picks CUDA when present.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/context.h"
#include "core/error.h"
#include "core/params.h"
#include "core/strategy.h"
#include "core/table.h"

namespace rareforge {

/// fit() stopped because a loss became NaN or Inf (an Error: exit status 1). The generator keeps
/// its last good state; fitted() is false when no epoch (no check) finished.
class TrainingDiverged : public Error {
 public:
  explicit TrainingDiverged(const std::string& what) : Error(what) {}
};

/// Categorical conditions for sample(): {column, value} pairs.
using Conditions = std::vector<std::pair<std::string, std::string>>;

class Generator {
 public:
  virtual ~Generator() = default;
  /// Train on `train` (see the contract above). Resumes from the loaded state when
  /// `resume` is true and the object was loaded from a checkpoint of the same data schema.
  virtual void fit(const Table& train, const Context& ctx, bool resume = false) = 0;
  /// Exactly n rows of class `cls`, each satisfying `where`.
  virtual Table sample(int64_t n, const std::string& cls, const Conditions& where,
                       const Context& ctx) const = 0;
  /// Write the checkpoint (atomically: a temporary name, then rename).
  virtual void save(const std::string& path) const = 0;
  /// Replace this object's state by the checkpoint in `path`, placing it on ctx.device.
  virtual void load(const std::string& path, const Context& ctx) = 0;
  virtual bool fitted() const = 0;
  /// Training schema (valid once fitted or loaded).
  virtual const Schema& schema() const = 0;
  /// Canonical spec it was built from, e.g. "ctgan:epochs=300,batch=500,...".
  const std::string& spec() const { return spec_; }

 protected:
  explicit Generator(std::string spec) : spec_(std::move(spec)) {}

 private:
  std::string spec_;
};

struct GeneratorInfo {
  std::string name;         ///< registry name, e.g. "ctgan"
  std::string description;  ///< one line
  std::vector<ParamDef> params;
  /// Build the (unfitted) generator from checked parameters; `canonical` is the full spec.
  std::function<std::unique_ptr<Generator>(const ParamValues& params, const std::string& canonical)>
      create;
};

/// Add a generator to the registry (called when generators/ is loaded). A second registration
/// of the same name replaces the first.
void register_generator(GeneratorInfo info);
/// Every registered generator, in registration order. Empty until generators/ is loaded.
std::vector<GeneratorInfo> generator_registry();
/// The entry for `name`, or nullptr (the pointer stays valid until the next registration).
const GeneratorInfo* find_generator(const std::string& name);
/// Parse and check a spec and build the unfitted generator; unknown names/keys are InputErrors
/// listing the valid ones; `what` names the flag in messages.
std::unique_ptr<Generator> make_generator(const std::string& spec,
                                          const std::string& what = "--method");

/// First line of every checkpoint file: one JSON object, then '\n', then the generator's own
/// payload. Readable without LibTorch, so `rareforge sample` knows which generator to build.
struct CheckpointHeader {
  std::string format = "rareforge.generator";
  int version = 1;
  std::string method;                 ///< registry name
  std::string spec;                   ///< canonical spec
  std::string rareforge_version;      ///< version that wrote it
  std::string device;                 ///< device it was trained on (informative)
  Schema schema;                      ///< training schema
  std::vector<int64_t> class_counts;  ///< training rows per class (in category order)
};
/// Schema as JSON {"columns": [{"name", "kind": "numeric"|"categorical", "categories"}],
/// "target"} and back (schema_from_json checks the shape; InputError naming `what`).
nlohmann::json schema_to_json(const Schema& s);
Schema schema_from_json(const nlohmann::json& j, const std::string& what);

/// Header line (JSON, no newline inside) for `h`.
std::string checkpoint_header_line(const CheckpointHeader& h);
/// Read and check the header of `path`; InputError naming the file if it is missing, not a
/// rareforge checkpoint, or of a newer version. `payload_offset` receives the byte offset of the
/// payload.
CheckpointHeader read_checkpoint_header(const std::string& path, size_t* payload_offset = nullptr);
/// make_generator(header.spec) followed by load(path, ctx).
std::unique_ptr<Generator> load_generator(const std::string& path, const Context& ctx);

/// Resample with a generator as the samplers do: fit on `input` (unless already fitted), plan
/// the sampling strategy ("over" kind), and append exactly the planned rows of each class after
/// the input rows (provenance: originals keep synthetic=0 and parent=their index).
/// `made` receives the rows made per class.
Table resample_with_generator(Generator& gen, const Table& input, const std::string& strategy,
                              std::optional<double> max_ratio, const Context& ctx,
                              std::vector<int64_t>* made = nullptr);

}  // namespace rareforge
