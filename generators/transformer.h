// The data transformer shared by the deep generators (torch-free header; Eigen + core only).
//
// Fitted on the TRAINING table only. It turns a table's feature columns (every column except
// the target; the target is the class condition, see ClassIndex below) into a dense float
// matrix made of spans, and back:
//
//   mode-specific normalisation (ctgan, tvae; CTGAN paper, section 4.2):
//     numeric column -> a Gaussian mixture fitted per column (up to max_modes components,
//     variational-Bayes style pruning: components whose weight is under weight_threshold are
//     dropped), each value encoded as [offset | mode one-hot] where offset = (x - mu_m) / (4
//     sigma_m) clipped to +-0.99 and m is drawn from the posterior over the kept modes (seeded,
//     vectorised); spans: one kTanh of width 1, then one kSoftmax of width n_modes.
//   quantile (ddpm; scikit-learn's QuantileTransformer(output_distribution="normal")):
//     numeric column -> one kGaussian span of width 1: Phi^-1 of the empirical CDF (n_quantiles
//     landmarks, linear interpolation, tails clipped to Phi^-1(1e-7)..Phi^-1(1-1e-7)).
//   categorical column -> one kSoftmax span, one-hot over its categories (both encodings).
//   missing values: a numeric column with any missing value in training gets an extra kSoftmax
//     span of width 2 (present, missing) and its missing values are encoded as the column mean;
//     a categorical column with missing values gets an extra last category "missing".
//
// inverse() is exact: categoricals by argmax (and "missing" back to -1), numerics by the mode
// argmax of the one-hot and mu_m + 4 sigma_m * offset (or the inverse quantile map), missing
// by the indicator's argmax. transform() then inverse() returns the input numbers to within
// 1e-9 relative (offsets that were clipped excepted) and categoricals exactly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/context.h"
#include "core/rng.h"
#include "core/table.h"

namespace rareforge::generators {

struct Span {
  enum class Kind { kTanh, kSoftmax, kGaussian };
  Kind kind = Kind::kSoftmax;
  int64_t start = 0;  ///< first column in the encoded matrix
  int64_t width = 0;
  int64_t column = 0;         ///< table column index it encodes
  bool missing_flag = false;  ///< the (present, missing) indicator of a numeric column
};

struct TransformerOptions {
  enum class Numeric { kModeSpecific, kQuantile };
  Numeric numeric = Numeric::kModeSpecific;
  int max_modes = 10;               ///< mode-specific: at most this many mixture components
  double weight_threshold = 0.005;  ///< mode-specific: prune components under this weight
  int gmm_iterations = 100;         ///< mode-specific: EM / VB iterations cap
  int n_quantiles = 1000;           ///< quantile: landmarks (capped at the number of rows)
};

class DataTransformer {
 public:
  /// Fit on `train` (which must have a target; the target column is not encoded). Uses
  /// ctx.rng(streams::kGenerator) (derived) for GMM initialisation; ctx.n_threads() columns in
  /// parallel. Deterministic for the seed.
  void fit(const Table& train, const TransformerOptions& opt, const Context& ctx);
  /// Encode `t` (same schema as the training table; its target is ignored) as n x output_dim.
  /// Mode-specific normalisation draws each value's mode from the posterior with `rng`.
  MatrixRM transform(const Table& t, Rng& rng) const;
  /// Decode n x output_dim back into a table with the training schema; the target column is
  /// set to the codes in `target_codes` (size n). Provenance is left empty.
  Table inverse(const MatrixRM& x, const std::vector<int32_t>& target_codes) const;

  const std::vector<Span>& spans() const { return spans_; }
  int64_t output_dim() const { return output_dim_; }
  const Schema& schema() const { return schema_; }
  /// Index of the target column in the schema.
  int64_t target_column() const { return target_; }
  int n_classes() const;
  bool fitted() const { return fitted_; }

  /// The kSoftmax span encoding categorical column `column` (nullptr for numeric columns).
  const Span* category_span(int64_t column) const;

  const TransformerOptions& options() const { return opt_; }

  /// Mode-specific: the kept mixture components of numeric column `column`, in the order of
  /// their one-hot slots (empty for categorical columns and the quantile encoding).
  struct Mixture {
    std::vector<double> means, stds, weights;
  };
  Mixture mixture(int64_t column) const;

  /// Full state as JSON (for checkpoints) and back; from_json checks the format.
  nlohmann::json to_json() const;
  static DataTransformer from_json(const nlohmann::json& j);

 private:
  // Fitted state of one schema column (the target's entry is unused).
  struct ColumnState {
    bool numeric = false;
    bool has_missing = false;  ///< training had missing values: indicator span / "missing" slot
    double fill = 0.0;         ///< numeric: the value a missing entry is encoded as (train mean)
    /// Mode-specific: the kept mixture components (mean, standard deviation, weight).
    std::vector<double> means, stds, weights;
    /// Quantile: landmark values at references linspace(0, 1, quantiles.size()).
    std::vector<double> quantiles;
    int64_t n_categories = 0;  ///< categorical: one-hot width ("missing" slot included)
    int64_t first_span = -1;   ///< index into spans_ of this column's first span
  };
  void build_spans();

  Schema schema_;
  int64_t target_ = -1;
  TransformerOptions opt_;
  std::vector<Span> spans_;
  int64_t output_dim_ = 0;
  bool fitted_ = false;
  std::vector<ColumnState> columns_;  // one per schema column
};

}  // namespace rareforge::generators
