// Model-agnostic feature importances: permutation importance on a held-out split, and how stable
// the top-k features are across seeds. (Model-specific importances are
// Classifier::feature_importances(): XGBoost gain, |coef|; signed logistic coefficients are
// LogisticRegression::coef() / positive_coef(), classifiers/linear.h.)
//
// Permutation importance is scikit-learn's sklearn.inspection.permutation_importance:
//   base   = score(y, clf.predict_proba(X))
//   for each feature group g and repeat r = 0..n_repeats-1:
//     X_r  = X with the columns of g permuted by the row permutation P_r (X_r(i, j) = X(P_r(i), j)
//            for every column j of g, so a one-hot block moves as one: that is permuting the raw
//            categorical column)
//     s_gr = score(y, clf.predict_proba(X_r))
//   importance_gr = base - s_gr        (score higher-is-better)
//                 = s_gr - base        (log_loss and brier: lower is better, as sklearn's
//                                       neg_log_loss / neg_brier_score scorers)
//   mean_g = mean over r, std_g = population std over r (ddof 0, numpy's np.std, as sklearn).
// As in sklearn, the SAME permutations P_0..P_{n_repeats-1} are used for every feature (sklearn
// draws one random_state per call and reuses it for each column), so features are compared on the
// same shuffles. The permutations are drawn in order with Rng::permutation(n) from
// ctx.rng(kPermutationStream). Compute it on the TEST split: on training rows it measures what the
// model memorised, not what it uses to generalise.
// The score is a metric of classifiers/metrics.h by its Scores::items() name ("pr_auc",
// "roc_auc", "log_loss", ...), computed by metrics::evaluate with the given options (binary:
// pos_label is the positive class).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "classifiers/classifier.h"
#include "classifiers/metrics.h"
#include "core/context.h"
#include "core/table.h"

namespace rareforge::classifiers {

/// Random stream of the permutations (distinct from core's named streams, context.h).
inline constexpr uint64_t kPermutationStream = 104;

/// Names of the scalar metrics (metrics::Scores::items(), in that order).
std::vector<std::string> metric_names();
/// True unless the metric is a loss (log_loss, brier). InputError for an unknown name listing the
/// valid ones (`what` names the flag or option).
bool metric_higher_is_better(const std::string& name, const std::string& what = "metric");
/// One metric of metrics::evaluate(y, proba, opt) by its items() name.
double score_metric(const std::string& name, const std::vector<int32_t>& y, const MatrixRM& proba,
                    const metrics::EvaluateOptions& opt = {});
/// One-line human description, e.g. "PR-AUC (average precision) of class 'bad'" (binary) or
/// "macro PR-AUC (one-vs-rest average precision, mean over classes)".
std::string describe_metric(const std::string& name, int n_classes, const std::string& pos_class);

struct PermutationOptions {
  /// Shuffles per feature (sklearn's n_repeats), >= 1.
  int n_repeats = 5;
  /// Score (a metric_names() entry).
  std::string metric = "pr_auc";
  /// Options of metrics::evaluate (pos_label of a binary problem).
  metrics::EvaluateOptions eval;
  /// Columns permuted together, one group per feature (e.g. a one-hot block); every column
  /// index must be < X.cols() and appear at most once. Empty = each column its own group.
  std::vector<std::vector<size_t>> groups;
};

struct PermutationImportance {
  double baseline = 0;       ///< score on the unpermuted X
  std::vector<double> mean;  ///< per group: mean importance over the repeats
  std::vector<double> std;   ///< per group: population std over the repeats
  /// per group, per repeat: the importance of that shuffle.
  std::vector<std::vector<double>> repeats;
};

/// Permutation importance of a fitted classifier on (X, y) (see the header comment).
/// InputError: X and y sizes differ, no rows, bad groups, n_repeats < 1, unknown metric.
PermutationImportance permutation_importance(const Classifier& clf, const MatrixRM& X,
                                             const std::vector<int32_t>& y,
                                             const PermutationOptions& opt, const Context& ctx);

/// Top-k stability: `runs` holds one importance vector per run (seed), all of the same size d.
/// In each run the k features with the largest importances form its top k (ties to the smaller
/// feature index; k is capped at d). Returns, per feature, the fraction of runs in whose top k it
/// is (in [0, 1]; the values sum to min(k, d)). InputError: no runs, sizes differ, k < 1, NaN.
std::vector<double> top_k_frequency(const std::vector<std::vector<double>>& runs, int k);

}  // namespace rareforge::classifiers
