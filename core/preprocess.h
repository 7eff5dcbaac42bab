// Preprocessing fitted on the training split only and applied to any split.
//
// Steps, in this order, each fitted on the output of the previous steps on the training table
// (the semantics of a scikit-learn Pipeline):
//   1. imputation   numeric:     median | mean | constant[:V] (default V = 0) | none
//                                | drop (rows with any missing feature, numeric or categorical,
//                                  are removed — in fit before anything is learned, and in
//                                  transform from the table being transformed)
//                   categorical: mode (most frequent category in train, ties to the first in
//                                the column's category order) | missing[:NAME] (a constant
//                                category, default "missing"; alias "constant") | none
//   2. outlier capping, numeric only; bounds learned on train, values clipped to [lo, hi]:
//                   iqr[:K]            [Q1 - K*IQR, Q3 + K*IQR], K >= 0, default 1.5
//                   percentile[:LO:HI] [P_LO, P_HI], 0 <= LO < HI <= 100, default 1, 99
//                   zscore[:Z]         [mean - Z*sd, mean + Z*sd], Z > 0, default 3, sd with ddof 0
//                   none
//   3. scaling, numeric only; x -> (x - center) / scale:
//                   standard  center = mean, scale = sd (ddof 0)
//                   minmax    center = min,  scale = max - min
//                   robust    center = median, scale = Q3 - Q1
//                   none      center = 0, scale = 1
//                   A scale of 0 (constant column) is replaced by 1, as scikit-learn does.
//   4. encoding to a dense row-major matrix (encode()):
//                   onehot    one column per category seen in the training rows, named
//                             "col=cat", in the column's category order (plus the missing
//                             category when impute-cat=missing, even if train had no missing
//                             value); an unseen category or a missing value gives all zeros
//                   ordinal   one column, the index into that same category list; an unseen
//                             category gives -1 and a missing value (impute-cat=none) NaN
//                   Numeric columns are one column each, named as the column.
// Percentiles, medians and quartiles are numpy's default (linear interpolation between order
// statistics: position p/100 * (n - 1) in the sorted values). Missing values never enter a
// statistic; with a numeric imputation other than none, the imputed values do enter the capping
// and scaling statistics (they are part of the imputed training column).
//
// The target column is never touched: transform copies it, encode leaves it out.
//
// Spec text (`--preprocess`), comma-separated KEY=VALUE, every key optional:
//     impute=median|mean|constant[:V]|drop|none          (default median)
//     impute-cat=mode|missing[:NAME]|none                (default mode)
//     cap=none|iqr[:K]|percentile[:LO:HI]|zscore[:Z]     (default none)
//     scale=none|standard|minmax|robust                  (default none)
//     encode=onehot|ordinal                              (default onehot)
// Capping parameters may also be named, and may follow as extra comma-separated entries:
// "cap=iqr:k=3", "cap=percentile:lo=5,hi=95,scale=robust". Example:
//     "impute=median,cap=iqr:1.5,scale=standard,encode=onehot"
//
// Fit-on-train rule: fit() reads only the table it is given; nothing is learned later. A table
// given to transform()/encode() must have the same feature columns (by name and kind, any order);
// its categorical codes are matched to the fitted categories by name, so a test file read on its
// own (with its own category order) encodes to the same layout.
// Inf is rejected by the readers; fit/transform also reject it, naming the column.
#pragma once

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/table.h"

namespace rareforge {

struct PreprocessSpec {
  enum class Impute { kNone, kMedian, kMean, kConstant, kDrop };
  enum class ImputeCat { kNone, kMode, kMissing };
  enum class Cap { kNone, kIqr, kPercentile, kZscore };
  enum class Scale { kNone, kStandard, kMinMax, kRobust };
  enum class Encode { kOneHot, kOrdinal };

  Impute impute = Impute::kMedian;           ///< numeric imputation (kDrop: drop rows)
  double impute_value = 0.0;                 ///< kConstant fill value
  ImputeCat impute_cat = ImputeCat::kMode;   ///< categorical imputation
  std::string missing_category = "missing";  ///< kMissing category name
  Cap cap = Cap::kNone;                      ///< outlier capping
  double cap_k = 1.5;                        ///< kIqr: whisker length in IQRs, >= 0
  double cap_lo = 1.0;                       ///< kPercentile: lower percentile, in [0, 100)
  double cap_hi = 99.0;                      ///< kPercentile: upper percentile, in (lo, 100]
  double cap_z = 3.0;                        ///< kZscore: bound in standard deviations, > 0
  Scale scale = Scale::kNone;                ///< scaling
  Encode encode = Encode::kOneHot;           ///< categorical encoding in encode()

  /// Parse spec text (grammar above); errors are InputError naming `flag` and the valid forms.
  static PreprocessSpec parse(const std::string& text, const std::string& flag = "--preprocess");
  /// Canonical text; parse(str()) gives back an equal spec.
  std::string str() const;
  /// Checks the parameter bounds (InputError naming `flag`, the field and the bound).
  void validate(const std::string& flag = "--preprocess") const;
  bool operator==(const PreprocessSpec& o) const { return str() == o.str(); }
};

/// What fit() learned for one feature column. Numeric: fill, lo/hi, center/scale. Categorical:
/// fill_category and categories.
struct FittedColumn {
  std::string name;
  ColumnKind kind = ColumnKind::kNumeric;
  double fill = std::numeric_limits<double>::quiet_NaN();  ///< NaN = no numeric imputation
  double lo = -std::numeric_limits<double>::infinity();    ///< capping bounds (infinite = none)
  double hi = std::numeric_limits<double>::infinity();
  double center = 0.0;  ///< scaling: (x - center) / scale
  double scale = 1.0;
  std::vector<std::string> categories;  ///< encoding layout (see header comment)
  std::string fill_category;            ///< empty = no categorical imputation
};

class Preprocessor {
 public:
  /// Configure only; `n_threads` (>= 1) parallelises fit and transform over columns.
  explicit Preprocessor(PreprocessSpec spec = {}, int n_threads = 1);

  /// Learn every statistic from `train` (its feature columns; the target is ignored).
  /// InputError: no rows, Inf, a feature column with no value, or no complete row under drop.
  void fit(const Table& train);
  bool fitted() const { return fitted_; }

  /// Impute, cap and scale a table with the fitted feature columns (target copied as is).
  /// Columns come out in the training table's order. With impute=drop rows with a missing
  /// feature are removed; `kept` (if given) receives the indices of the rows kept.
  Table transform(const Table& table, std::vector<size_t>* kept = nullptr) const;

  /// Dense feature matrix of a transformed table (target left out), layout per the header
  /// comment; column j is named feature_names()[j].
  MatrixRM encode(const Table& transformed) const;
  /// encode(transform(table)).
  MatrixRM transform_encode(const Table& table, std::vector<size_t>* kept = nullptr) const;

  const std::vector<std::string>& feature_names() const;
  const std::vector<FittedColumn>& columns() const;
  const FittedColumn& column(const std::string& name) const;
  const PreprocessSpec& spec() const { return spec_; }
  /// Training table's column order and target (target may be empty).
  const std::vector<std::string>& column_order() const { return order_; }
  const std::string& target() const { return target_; }

  // JSON of the fitted state (format "rareforge.preprocessor", version 1); doubles round-trip
  // exactly, non-finite ones are written as the strings "nan", "inf", "-inf".
  friend void to_json(nlohmann::json& j, const Preprocessor& p);
  friend void from_json(const nlohmann::json& j, Preprocessor& p);

 private:
  void require_fitted(const char* what) const;

  PreprocessSpec spec_;
  int n_threads_ = 1;
  bool fitted_ = false;
  std::vector<FittedColumn> cols_;  // feature columns, training order
  std::vector<std::string> order_;  // all training columns (features and target), in order
  std::string target_;
  std::vector<std::string> names_;  // encoded feature names
};

}  // namespace rareforge
