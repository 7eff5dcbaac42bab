// Classical samplers and cleaners: the interface every method implements, and the registry.
//
// A sampler takes a table with a target and returns the resampled table:
//   rows kept from the input, in input order (cleaners remove some; over-samplers keep all),
//   followed by the synthetic rows (over-samplers), grouped by class in class order.
// Provenance (core/table.h) is filled for every output row: original rows keep synthetic=0 and
// parent = their input row index; synthetic rows have synthetic=1, method = the canonical spec
// (e.g. "smote:k=5"), parent = the seed row's INPUT index, and for interpolations neighbor = the
// partner's input index and gap = the interpolation weight (new = seed + gap * (partner - seed)).
//
// Numeric features are used as they are (no scaling), as imbalanced-learn does; scale first
// with the preprocessing step if the columns have different units. NaN in a feature a method
// needs is an InputError naming the column and suggesting imputation.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/context.h"
#include "core/params.h"
#include "core/table.h"

namespace rareforge::classical {

/// How many rows to make or remove: the sampling strategy of DESIGN.md.
struct SamplingRequest {
  std::string strategy =
      "auto";  ///< auto | minority | not minority | not majority | all | r | class=count,...
  double max_ratio = 0;  ///< cap final class size at max_ratio x original; 0 = no cap
};

struct ResampleResult {
  Table table;                   ///< kept input rows then synthetic rows, with provenance
  std::vector<size_t> kept;      ///< input row index of each kept row (size = kept rows)
  std::vector<int64_t> made;     ///< synthetic rows made per class (size n_classes)
  std::vector<int64_t> removed;  ///< input rows removed per class (size n_classes)
};

class Sampler {
 public:
  virtual ~Sampler() = default;
  /// Resample `input` (must have a target with >= 2 classes). Deterministic for ctx.seed.
  virtual ResampleResult resample(const Table& input, const SamplingRequest& req,
                                  const Context& ctx) const = 0;
  /// As resample(), for a caller that no longer needs `input`: the sampler may take over its
  /// storage, so the input and a full copy never exist at once (the over-samplers move the
  /// input's columns into the output and extend them: peak memory is about the output alone).
  /// `input` is left valid but unspecified. The default copies, as resample() does.
  virtual ResampleResult resample_owned(Table&& input, const SamplingRequest& req,
                                        const Context& ctx) const {
    return resample(input, req, ctx);
  }
};

enum class SamplerKind { kOver, kUnder, kClean, kCombined };
const char* to_string(SamplerKind kind);

struct SamplerInfo {
  std::string name;         ///< registry name, e.g. "borderline-smote"
  std::string description;  ///< one line
  SamplerKind kind = SamplerKind::kOver;
  std::vector<ParamDef> params;
  /// Build the sampler from checked parameters; `canonical` is the full spec for provenance.
  std::function<std::unique_ptr<Sampler>(const ParamValues& params, const std::string& canonical)>
      create;
};

/// Every classical method, in the order `rareforge methods` lists them.
const std::vector<SamplerInfo>& sampler_registry();
/// The entry for `name`, or nullptr.
const SamplerInfo* find_sampler(const std::string& name);
/// Parse and check a spec (`smote:k=5`) and build the sampler. Unknown names/keys are
/// InputErrors listing the valid ones.
std::unique_ptr<Sampler> make_sampler(const std::string& spec);

// --- helpers shared by the methods -----------------------------------------------------------

/// Numeric feature columns (indices into the table) and the row-major matrix of their values
/// for `rows` (all rows when empty). Throws InputError naming the column if a value is NaN,
/// suggesting imputation, with `method` in the message.
MatrixRM numeric_features(const Table& t, const std::vector<size_t>& cols,
                          const std::string& method);

/// Assemble the output: input rows `kept` (in the given order) followed by `synthetic` (a table
/// with the input's schema whose provenance is already filled), provenance completed for the
/// kept rows.
ResampleResult assemble(const Table& input, std::vector<size_t> kept, Table synthetic);

}  // namespace rareforge::classical
