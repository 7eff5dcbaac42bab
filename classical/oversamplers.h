// The over-samplers of issue 3: random over-sampling (plain or smoothed bootstrap), noise
// injection, and the SMOTE family (SMOTE, SMOTE-NC, SMOTEN, Borderline-SMOTE 1/2, ADASYN,
// k-means SMOTE, SVM-SMOTE). Users reach them through the registry (classical/sampler.h:
// make_sampler("borderline-smote:kind=2")); the parameter structs and factories below are for
// code that builds one directly (the combined methods, tests). docs/METHODS.md describes each
// method, its reference and where it differs from imbalanced-learn 0.10.
//
// Common behaviour (imbalanced-learn's unless docs/METHODS.md says otherwise):
//   * Counts come from the sampling plan (core/strategy.h, over-sampling kind). Each class to
//     grow is handled on its own (one-vs-rest): its neighbours are its own rows.
//   * The output is the input rows in input order, then the new rows grouped by class in class
//     order (classical/sampler.h). Provenance: parent = the seed row (input index), neighbor =
//     the interpolation partner (input index, -1 when none), gap = the weight t in
//     new = seed + t * (partner - seed) (NaN when none; negative for SVM-SMOTE's
//     extrapolations away from the partner).
//   * Interpolating methods draw, for each new row, a seed row uniformly (with replacement)
//     among the class's candidate seeds, a partner uniformly among the seed's k nearest
//     same-class rows (own row excluded; classical/knn.h: exact, ties to the lower index), and
//     the gap uniformly in [0, 1).
//   * Numeric features are used unscaled. A table with categorical feature columns is handled
//     by the SMOTE-NC rule in every interpolating method (smote, borderline-smote, adasyn,
//     kmeans-smote, svm-smote; smote-nc by name): distances add Med^2 per categorical mismatch (Med
//     = the median of the class's numeric feature standard deviations), and each new categorical
//     value is the most common value among the seed's k neighbours, ties broken at random.
//   * A class with fewer than k+1 rows uses k = rows-1 (warning); a class of one row that must
//     grow by interpolation is an InputError suggesting random-over. Missing values in the
//     features are InputErrors naming the column (random-over without shrinkage and noise
//     excepted: they copy rows as they are).
//   * Deterministic for ctx.seed, whatever the thread count.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "classical/sampler.h"
#include "core/context.h"
#include "core/table.h"

namespace rareforge::classical {

/// `random-over`: duplicate rows drawn uniformly with replacement from each class.
struct RandomOverParams {
  /// Smoothed bootstrap (imbalanced-learn's RandomOverSampler(shrinkage=...)): 0 = plain
  /// duplicates; h > 0 adds N(0, (h * s * std_j)^2) to numeric feature j, std_j the class's
  /// population std and s = (4 / ((d + 2) * n))^(1 / (d + 4)) (d numeric features, n rows).
  double shrinkage = 0.0;
};

/// `noise`: duplicate rows drawn uniformly from each class and add Gaussian noise of standard
/// deviation scale * (the column's population std over all rows) to each numeric feature;
/// categorical features and the target are copied.
struct NoiseParams {
  double scale = 0.1;  ///< noise std as a fraction of each numeric column's std
};

/// `smote` and `smote-nc` (Chawla et al. 2002).
struct SmoteParams {
  int64_t k = 5;  ///< nearest same-class neighbours to interpolate towards
};

/// `borderline-smote` (Han, Wang and Mao 2005).
struct BorderlineParams {
  int64_t kind = 1;  ///< 1: partners from the class; 2: also from the other classes (gap < 0.5)
  int64_t k = 5;     ///< nearest same-class (and, kind 2, other-class) neighbours for partners
  int64_t m = 10;    ///< neighbours in the whole table that decide the danger set
};

/// `adasyn` (He, Bai, Garcia and Li 2008).
struct AdasynParams {
  int64_t k = 5;  ///< neighbours for the difficulty ratio (whole table) and for partners (class)
};

/// `kmeans-smote` (Last, Douzas and Bacao 2017).
struct KMeansSmoteParams {
  int64_t k = 2;           ///< nearest same-class neighbours inside a cluster (imblearn: 2)
  int64_t n_clusters = 8;  ///< k-means clusters over the whole table
  int64_t max_iter = 300;  ///< Lloyd iterations at most
  /// Minimum share of the class in a cluster for the cluster to be used; < 0 = "auto"
  /// (imbalanced-learn: rows to make for the class / rows to make in total / 2).
  double balance_threshold = -1.0;
  /// Exponent of the mean distance in a cluster's sparsity; < 0 = "auto" = number of features.
  double density_exponent = -1.0;
};

/// `svm-smote` (Nguyen, Cooper and Kamei 2009; imbalanced-learn's SVMSMOTE): SMOTE from the
/// class's support vectors of an RBF-kernel C-SVC (libsvm) fitted on the whole table.
struct SvmSmoteParams {
  int64_t k = 5;          ///< nearest same-class neighbours to interpolate / extrapolate towards
  int64_t m = 10;         ///< nearest rows (whole table) that decide noise / danger / safe
  double out_step = 0.5;  ///< safe support vectors extrapolate with gap in (-out_step, 0]
  double c = 1.0;         ///< the SVM's penalty C
  /// RBF gamma: > 0 the value; kGammaScale = 1 / (features x variance of all feature values),
  /// kGammaAuto = 1 / features (scikit-learn's "scale" and "auto").
  double gamma = kGammaScale;
  static constexpr double kGammaScale = -1.0;
  static constexpr double kGammaAuto = -2.0;
};

/// `smoten` (Chawla et al. 2002, SMOTE-N): every feature categorical.
struct SmotenParams {
  int64_t k = 5;  ///< nearest same-class neighbours (Value Difference Metric) that vote
};

/// Factories. `method` is the canonical spec written into provenance ("smote:k=5").
std::unique_ptr<Sampler> make_random_over(const RandomOverParams& p, const std::string& method);
std::unique_ptr<Sampler> make_noise(const NoiseParams& p, const std::string& method);
/// `nc` = true for the `smote-nc` registry name (same rule; only the messages differ).
std::unique_ptr<Sampler> make_smote(const SmoteParams& p, const std::string& method,
                                    bool nc = false);
std::unique_ptr<Sampler> make_borderline_smote(const BorderlineParams& p,
                                               const std::string& method);
std::unique_ptr<Sampler> make_adasyn(const AdasynParams& p, const std::string& method);
std::unique_ptr<Sampler> make_kmeans_smote(const KMeansSmoteParams& p, const std::string& method);
std::unique_ptr<Sampler> make_smoten(const SmotenParams& p, const std::string& method);
std::unique_ptr<Sampler> make_svm_smote(const SvmSmoteParams& p, const std::string& method);

// --- the decisions of the adaptive methods, for inspection and tests --------------------------

/// Borderline-SMOTE's danger set of class `c`: the input rows of class c with
/// m/2 <= (other-class rows among its m nearest rows of the whole table) < m, ascending.
/// m is lowered to n_rows - 1 (warning) for tiny tables. `threads` as Context::threads.
std::vector<int64_t> borderline_danger(const Table& t, int32_t c, int64_t m, int threads = 0);

/// ADASYN's rows to make from each row of class `c` (same order as the class's input rows),
/// summing to exactly `n_add`: r_i = (other-class rows among the k nearest rows of the whole
/// table) / k, normalised, apportioned by largest remainder (see docs/METHODS.md). InputError if
/// every r_i is 0.
std::vector<int64_t> adasyn_counts(const Table& t, int32_t c, int64_t k, int64_t n_add,
                                   int threads = 0);

/// SVM-SMOTE's decisions for class `c` (input rows, each list ascending): the class's support
/// vectors of the SVM fitted on all rows (libsvm C-SVC, RBF kernel, one-vs-one for more than two
/// classes: the support vectors of every pairwise machine), and their split by the m nearest
/// rows of the whole table into noise (all m of other classes), danger (m/2 <= other < m) and
/// safe (other < m/2). m is lowered to n_rows - 1 (warning) for tiny tables.
struct SvmSmoteSets {
  std::vector<int64_t> support;
  std::vector<int64_t> noise;
  std::vector<int64_t> danger;
  std::vector<int64_t> safe;
};
SvmSmoteSets svm_smote_sets(const Table& t, int32_t c, const SvmSmoteParams& p, int threads = 0);

/// Value Difference Metric of SMOTEN (imbalanced-learn's ValueDifferenceMetric with k=1, r=2),
/// fitted on all rows of a table whose features are all categorical:
///   d(a, b) = sum over features f of ( sum over classes c of |P(c | a_f) - P(c | b_f)| )^2,
/// P(c | v) = (rows of class c with value v in f) / (rows with value v in f), 0 if none.
struct Vdm {
  std::vector<size_t> cols;  ///< the feature columns, in table order
  /// sq[q] is the (categories x categories) table of the squared per-feature term of cols[q].
  std::vector<MatrixRM> sq;

  /// Fit on `t` (InputError if a feature is numeric or a value is missing).
  static Vdm fit(const Table& t, const std::string& method = "smoten");
  /// d(row a, row b) of `t`, summed over features in column order.
  double distance(const Table& t, size_t a, size_t b) const;
};

}  // namespace rareforge::classical
