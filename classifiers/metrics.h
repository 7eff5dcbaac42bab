// Classification metrics: the one module every evaluation in rareforge uses.
//
// Every metric reproduces scikit-learn 1.2.1 (Debian's python3-sklearn) and, for the G-mean,
// imbalanced-learn 0.10, to ~1e-12 on inputs with heavy score ties; tests/fixtures/metrics.json
// (made by tests/fixtures/make_metrics_fixture.py) is the proof. docs/METRICS.md has the prose.
//
// Conventions shared by all functions
//   * Labels are int32 class codes 0..K-1 (Table::labels()). Label metrics take K explicitly
//     so that a class missing from both y_true and y_pred is still known; a label outside
//     0..K-1 is an InputError.
//   * Probabilities/scores are a row-major n x K matrix: score of class k for row i is
//     p[i * K + k]. Pass a MatrixRM (core/table.h) or a std::vector<double> with K; ProbaView
//     below is the non-owning view both convert to. Rows need not sum to one except where a
//     metric says so (log loss renormalises, as sklearn does).
//   * Binary score functions (`*_binary`, curves, thresholds) take one score per row and a
//     positive label: rows with y_true == pos_label are positives, all others negatives, so
//     the same functions give one-vs-rest results for one class of a multi-class problem.
//   * Any NaN or infinite score is an InputError. Empty input is an InputError.
//   * A metric that is undefined for the input throws InputError naming the function and the
//     reason: ROC-AUC and average precision need at least one positive and (ROC-AUC) one
//     negative row for every class they score, as sklearn's ValueError for ROC-AUC. We do
//     not return NaN or sklearn's silent 0 for average precision without positives: a
//     metric that cannot be computed should stop the evaluation, not be averaged in.
//   * Ratios with a zero denominator (precision of a class never predicted, recall of a class
//     never present, F1 with precision = recall = 0) are 0, as sklearn's default
//     zero_division="warn" (which returns 0); rareforge never warns.
//
// Predicted labels
//   * argmax: the class with the largest score; ties go to the smallest class (numpy argmax).
//   * threshold (binary, K = 2): class 1 when score >= threshold, else class 0 — the same
//     ">=" that defines the points of the ROC and PR curves.
//
// Which classes a macro average runs over (each as the sklearn/imblearn default, labels=None):
//   * precision/recall/F1 macro and the G-mean: classes present in y_true or y_pred;
//   * balanced accuracy: classes present in y_true (sklearn drops a class only predicted).
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "core/table.h"

namespace rareforge::metrics {

/// Non-owning view of an n x K row-major score matrix; element (i, k) is data[i * cols + k].
/// Converts implicitly from MatrixRM and from (std::vector<double>, K), so every function
/// below takes either. The viewed storage must outlive the call.
struct ProbaView {
  const double* data = nullptr;
  size_t rows = 0;
  size_t cols = 0;

  ProbaView(const MatrixRM& m)  // NOLINT(google-explicit-constructor)
      : data(m.data()), rows(static_cast<size_t>(m.rows())), cols(static_cast<size_t>(m.cols())) {}
  /// values.size() must be a multiple of n_classes, and n_classes >= 1 (else InputError).
  ProbaView(const std::vector<double>& values, size_t n_classes);
  double operator()(size_t i, size_t k) const { return data[i * cols + k]; }
};

/// Row-major K x K counts: (t, p) = rows of true class t predicted as class p.
using CountMatrix = Eigen::Matrix<int64_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// --- predicted labels ----------------------------------------------------------------------

/// Class with the largest score per row; ties -> the smallest class index.
std::vector<int32_t> predict_argmax(ProbaView proba);
/// Binary: 1 where score >= threshold, else 0.
std::vector<int32_t> predict_threshold(const std::vector<double>& score, double threshold);
/// Column k of the score matrix (e.g. the positive-class probability, k = 1).
std::vector<double> column(ProbaView proba, size_t k);

// --- metrics on predicted labels -------------------------------------------------------------

/// sklearn confusion_matrix(y_true, y_pred, labels=range(K)).
CountMatrix confusion_matrix(const std::vector<int32_t>& y_true, const std::vector<int32_t>& y_pred,
                             int n_classes);
/// Fraction of rows with y_pred == y_true (sklearn accuracy_score).
double accuracy(const std::vector<int32_t>& y_true, const std::vector<int32_t>& y_pred,
                int n_classes);
/// Mean recall over the classes present in y_true (sklearn balanced_accuracy_score).
double balanced_accuracy(const std::vector<int32_t>& y_true, const std::vector<int32_t>& y_pred,
                         int n_classes);

struct ClassReport {
  /// Per class k = 0..K-1 (0 for a class absent from y_true and y_pred):
  ///   precision_k = TP/(TP+FP), recall_k = TP/(TP+FN), f1_k = 2 P R / (P + R),
  ///   each 0 when its denominator is 0. support_k = rows of class k in y_true.
  std::vector<double> precision, recall, f1;
  std::vector<int64_t> support;
  /// Unweighted means over the classes present in y_true or y_pred
  /// (sklearn precision_recall_fscore_support(average="macro"), labels=None).
  double macro_precision = 0, macro_recall = 0, macro_f1 = 0;
};
ClassReport precision_recall_f1(const std::vector<int32_t>& y_true,
                                const std::vector<int32_t>& y_pred, int n_classes);

/// Geometric mean of the per-class recalls over the classes present in y_true or y_pred
/// (imblearn geometric_mean_score, average="multiclass", correction=0): 0 as soon as one such
/// class has recall 0. Binary: sqrt(sensitivity * specificity).
double geometric_mean(const std::vector<int32_t>& y_true, const std::vector<int32_t>& y_pred,
                      int n_classes);

/// Matthews correlation coefficient, multi-class form of sklearn matthews_corrcoef:
///   (c s - t.p) / sqrt((s^2 - p.p)(s^2 - t.t)), c = trace of the confusion matrix, s = n,
///   t / p = true / predicted class counts; 0 when the denominator is 0 (one class only).
double matthews_corrcoef(const std::vector<int32_t>& y_true, const std::vector<int32_t>& y_pred,
                         int n_classes);

// --- metrics on scores -----------------------------------------------------------------------

/// Binary ROC-AUC: trapezoidal area under roc_curve (sklearn roc_auc_score); tied scores count
/// as half a correctly ordered pair. Needs positives and negatives.
double roc_auc_binary(const std::vector<int32_t>& y_true, const std::vector<double>& score,
                      int32_t pos_label = 1);
/// K = 2: roc_auc_binary on column 1. K > 2: one-vs-rest macro, the mean over k of
/// roc_auc_binary(y == k, column k) (sklearn roc_auc_score(multi_class="ovr",
/// average="macro")); every class must be present. Unlike sklearn, rows need not sum to 1.
double roc_auc(const std::vector<int32_t>& y_true, ProbaView proba);
/// Per-class one-vs-rest ROC-AUC, k = 0..K-1 (for K = 2 the two entries are equal when the rows
/// sum to one).
std::vector<double> roc_auc_per_class(const std::vector<int32_t>& y_true, ProbaView proba);

/// Average precision (PR-AUC) as sklearn average_precision_score:
///   AP = sum_j (R_j - R_{j-1}) P_j
/// over the distinct scores taken as thresholds in decreasing order (R_{-1} = 0): a step
/// function, no interpolation; rows with tied scores enter together. Needs one positive.
double average_precision_binary(const std::vector<int32_t>& y_true,
                                const std::vector<double>& score, int32_t pos_label = 1);
/// K = 2: average_precision_binary on column 1. K > 2: macro over classes of the one-vs-rest
/// AP (sklearn average_precision_score(label_binarize(y, classes=range(K)), proba)); every
/// class must be present.
double average_precision(const std::vector<int32_t>& y_true, ProbaView proba);
std::vector<double> average_precision_per_class(const std::vector<int32_t>& y_true,
                                                ProbaView proba);

/// Binary Brier score mean_i (p_i - [y_i == pos_label])^2 (sklearn brier_score_loss);
/// p in [0, 1] required.
double brier_score_binary(const std::vector<int32_t>& y_true, const std::vector<double>& prob,
                          int32_t pos_label = 1);
/// Multi-class Brier score mean_i sum_k (p_ik - [y_i == k])^2 (Brier's original definition;
/// sklearn 1.2 has no multi-class Brier). Range [0, 2]; for K = 2 it is twice the binary one.
double brier_score_multiclass(const std::vector<int32_t>& y_true, ProbaView proba);
/// K = 2: brier_score_binary on column 1 (the sklearn number). K > 2: brier_score_multiclass.
double brier_score(const std::vector<int32_t>& y_true, ProbaView proba);

/// Log loss as sklearn 1.2.1 log_loss(y_true, proba, labels=range(K)): every entry clipped to
/// [eps, 1 - eps] with eps = 2^-52 (float64 machine epsilon), each row divided by its sum,
/// then mean_i -ln p_i,y_i. Needs K >= 2.
double log_loss(const std::vector<int32_t>& y_true, ProbaView proba);

// --- curves (binary, one score per row) ------------------------------------------------------

/// sklearn roc_curve. Points are (fpr, tpr) for the thresholds "score >= t", t running over the
/// distinct scores in decreasing order, preceded by (0, 0) at t = max score + 1 (sklearn 1.2's
/// sentinel). drop_intermediate (default, as sklearn) removes points collinear with their
/// neighbours on a horizontal or vertical segment (second differences of FP and TP counts both
/// zero); the area is unchanged. Needs positives and negatives.
struct RocCurve {
  std::vector<double> fpr, tpr, thresholds;
};
RocCurve roc_curve(const std::vector<int32_t>& y_true, const std::vector<double>& score,
                   int32_t pos_label = 1, bool drop_intermediate = true);

/// sklearn precision_recall_curve: thresholds are the distinct scores in increasing order;
/// precision[j], recall[j] belong to "score >= thresholds[j]", and one last point (1, 0) with
/// no threshold ends the arrays (so they are one longer than thresholds). Needs a positive.
struct PrCurve {
  std::vector<double> precision, recall, thresholds;
};
PrCurve precision_recall_curve(const std::vector<int32_t>& y_true, const std::vector<double>& score,
                               int32_t pos_label = 1);

// --- threshold selection on a validation split ------------------------------------------------

/// Candidate thresholds are the distinct validation scores in increasing order followed by
/// +infinity ("flag no row"); thresholds[j] predicts positive for score >= thresholds[j] and
/// values[j] is the criterion there. The chosen threshold maximises the value; among equal
/// values the largest threshold wins (fewest rows flagged). Choose it on a validation split,
/// never on the test split.
struct ThresholdChoice {
  double threshold = std::numeric_limits<double>::infinity();
  double value = 0;  ///< criterion at the chosen threshold
  std::vector<double> thresholds;
  std::vector<double> values;
};

/// Criterion: F1 of the positive class, 2 TP / (2 TP + FP + FN) (0 when flagging nothing).
ThresholdChoice choose_threshold_max_f1(const std::vector<int32_t>& y_true,
                                        const std::vector<double>& score, int32_t pos_label = 1);

/// Value of acting on a flagged row. All three are >= 0 and finite; costs are subtracted.
struct CostModel {
  double benefit_tp = 1.0;  ///< gained per true positive
  double cost_fp = 0.0;     ///< lost per false positive
  double cost_fn = 0.0;     ///< lost per false negative (a missed positive)
};
/// Criterion: expected value per row, (benefit_tp TP - cost_fp FP - cost_fn FN) / n.
ThresholdChoice choose_threshold_cost(const std::vector<int32_t>& y_true,
                                      const std::vector<double>& score, const CostModel& costs,
                                      int32_t pos_label = 1);

// --- everything at once ----------------------------------------------------------------------

struct EvaluateOptions {
  /// K = 2: class whose score column and label are "positive" for the binary-only numbers
  /// (ROC-AUC, AP, Brier, and the threshold prediction). Usually the minority class.
  int32_t pos_label = 1;
  /// K = 2: predict pos_label when its score >= threshold; NaN = argmax.
  double threshold = std::numeric_limits<double>::quiet_NaN();
};

/// The scalar metrics of one (y_true, proba) pair, as the comparison protocol reports them.
struct Scores {
  int n_classes = 0;
  int64_t n_rows = 0;
  double accuracy = 0, balanced_accuracy = 0;
  double macro_precision = 0, macro_recall = 0, macro_f1 = 0;
  double g_mean = 0, mcc = 0;
  double roc_auc = 0;  ///< binary: of pos_label; multi-class: OvR macro
  double pr_auc = 0;   ///< average precision; binary: of pos_label; multi-class: macro
  double brier = 0;    ///< binary: sklearn's, of pos_label; multi-class: the sum form
  double log_loss = 0;
  ClassReport per_class;
  std::vector<double> pr_auc_per_class, roc_auc_per_class;
  CountMatrix confusion;

  /// (name, value) of every scalar above, in a fixed order, for tables and files.
  std::vector<std::pair<std::string, double>> items() const;
};
Scores evaluate(const std::vector<int32_t>& y_true, ProbaView proba,
                const EvaluateOptions& opt = {});

}  // namespace rareforge::metrics
