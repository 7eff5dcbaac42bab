#include "classifiers/metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"

namespace rareforge::metrics {

ProbaView::ProbaView(const std::vector<double>& values, size_t n_classes) {
  RF_CHECK_INPUT(n_classes >= 1, "metrics: a score matrix needs at least one class column");
  RF_CHECK_INPUT(values.size() % n_classes == 0,
                 "metrics: {} score values are not a whole number of rows of {} classes",
                 values.size(), n_classes);
  data = values.data();
  rows = values.size() / n_classes;
  cols = n_classes;
}

namespace {

void check_rows(const char* fn, size_t n_true, size_t n_other, const char* other) {
  RF_CHECK_INPUT(n_true > 0, "{}: y_true is empty; a metric needs at least one row", fn);
  RF_CHECK_INPUT(n_true == n_other, "{}: y_true has {} rows but {} has {}; pass one entry per row",
                 fn, n_true, other, n_other);
}

void check_labels(const char* fn, const std::vector<int32_t>& y, int n_classes, const char* what) {
  RF_CHECK_INPUT(n_classes >= 1, "{}: n_classes is {}; it must be >= 1", fn, n_classes);
  for (size_t i = 0; i < y.size(); ++i) {
    RF_CHECK_INPUT(y[i] >= 0 && y[i] < n_classes, "{}: {}[{}] = {} is outside the classes 0..{}",
                   fn, what, i, y[i], n_classes - 1);
  }
}

void check_nonnegative_labels(const char* fn, const std::vector<int32_t>& y) {
  for (size_t i = 0; i < y.size(); ++i) {
    RF_CHECK_INPUT(y[i] >= 0, "{}: y_true[{}] = {} is negative; labels are class codes >= 0", fn, i,
                   y[i]);
  }
}

void check_finite(const char* fn, const double* v, size_t n, size_t cols, const char* what) {
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(v[i])) {
      if (cols <= 1) {
        RF_THROW_INPUT("{}: {}[{}] is {}; scores must be finite numbers", fn, what, i, v[i]);
      }
      RF_THROW_INPUT("{}: {} row {} class {} is {}; scores must be finite numbers", fn, what,
                     i / cols, i % cols, v[i]);
    }
  }
}

void check_binary_input(const char* fn, const std::vector<int32_t>& y,
                        const std::vector<double>& score) {
  check_rows(fn, y.size(), score.size(), "score");
  check_nonnegative_labels(fn, y);
  check_finite(fn, score.data(), score.size(), 1, "score");
}

void check_proba(const char* fn, const std::vector<int32_t>& y, ProbaView p, size_t min_cols) {
  check_rows(fn, y.size(), p.rows, "proba");
  RF_CHECK_INPUT(p.cols >= min_cols, "{}: proba has {} class column(s); this metric needs {}", fn,
                 p.cols, min_cols);
  check_labels(fn, y, static_cast<int>(p.cols), "y_true");
  check_finite(fn, p.data, p.rows * p.cols, p.cols, "proba");
}

void check_label_pair(const char* fn, const std::vector<int32_t>& y_true,
                      const std::vector<int32_t>& y_pred, int n_classes) {
  check_rows(fn, y_true.size(), y_pred.size(), "y_pred");
  check_labels(fn, y_true, n_classes, "y_true");
  check_labels(fn, y_pred, n_classes, "y_pred");
}

/// Counts of sklearn's _binary_clf_curve: for the distinct scores in decreasing order, the
/// positives (tps) and negatives (fps) with score >= that value.
struct ClfCurve {
  std::vector<double> fps, tps, thresholds;
  double n_pos() const { return tps.back(); }
  double n_neg() const { return fps.back(); }
};

ClfCurve binary_clf_curve(const std::vector<int32_t>& y, const std::vector<double>& score,
                          int32_t pos_label) {
  const size_t n = y.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return score[a] > score[b]; });
  ClfCurve c;
  int64_t tp = 0;
  for (size_t i = 0; i < n; ++i) {
    if (y[order[i]] == pos_label) ++tp;
    if (i + 1 == n || score[order[i]] != score[order[i + 1]]) {
      c.tps.push_back(static_cast<double>(tp));
      c.fps.push_back(static_cast<double>(static_cast<int64_t>(i + 1) - tp));
      c.thresholds.push_back(score[order[i]]);
    }
  }
  return c;
}

void require_positive(const char* fn, const ClfCurve& c, int32_t pos_label) {
  RF_CHECK_INPUT(c.n_pos() > 0,
                 "{}: no row of y_true has the positive label {}; the metric is undefined "
                 "(choose a split where the class is present)",
                 fn, pos_label);
}

void require_negative(const char* fn, const ClfCurve& c, int32_t pos_label) {
  RF_CHECK_INPUT(c.n_neg() > 0,
                 "{}: every row of y_true has the label {} (only one class present); the "
                 "metric is undefined",
                 fn, pos_label);
}

RocCurve roc_from_counts(const ClfCurve& c, bool drop_intermediate) {
  std::vector<size_t> keep;
  const size_t m = c.fps.size();
  if (drop_intermediate && m > 2) {
    keep.push_back(0);
    for (size_t j = 1; j + 1 < m; ++j) {
      const double d2f = c.fps[j + 1] - 2 * c.fps[j] + c.fps[j - 1];
      const double d2t = c.tps[j + 1] - 2 * c.tps[j] + c.tps[j - 1];
      if (d2f != 0 || d2t != 0) keep.push_back(j);
    }
    keep.push_back(m - 1);
  } else {
    keep.resize(m);
    std::iota(keep.begin(), keep.end(), size_t{0});
  }
  RocCurve r;
  r.fpr.reserve(keep.size() + 1);
  r.tpr.reserve(keep.size() + 1);
  r.thresholds.reserve(keep.size() + 1);
  r.fpr.push_back(0);
  r.tpr.push_back(0);
  r.thresholds.push_back(c.thresholds[0] + 1);
  const double nn = c.n_neg(), np = c.n_pos();
  for (size_t j : keep) {
    r.fpr.push_back(c.fps[j] / nn);
    r.tpr.push_back(c.tps[j] / np);
    r.thresholds.push_back(c.thresholds[j]);
  }
  return r;
}

double trapezoid(const std::vector<double>& x, const std::vector<double>& y) {
  double area = 0;
  for (size_t i = 1; i < x.size(); ++i) area += (x[i] - x[i - 1]) * (y[i] + y[i - 1]) / 2.0;
  return area;
}

double ap_from_counts(const ClfCurve& c) {
  // Terms in sklearn's order: increasing threshold, -diff(recall) * precision.
  double ap = 0;
  const size_t m = c.tps.size();
  const double np = c.n_pos();
  for (size_t jj = 0; jj < m; ++jj) {
    const size_t j = m - 1 - jj;
    const double recall = c.tps[j] / np;
    const double next_recall = j == 0 ? 0.0 : c.tps[j - 1] / np;
    const double precision = c.tps[j] / (c.tps[j] + c.fps[j]);
    ap += -(next_recall - recall) * precision;
  }
  return ap;
}

double roc_auc_checked(const char* fn, const std::vector<int32_t>& y,
                       const std::vector<double>& score, int32_t pos_label) {
  const ClfCurve c = binary_clf_curve(y, score, pos_label);
  require_positive(fn, c, pos_label);
  require_negative(fn, c, pos_label);
  const RocCurve r = roc_from_counts(c, true);
  return trapezoid(r.fpr, r.tpr);
}

double ap_checked(const char* fn, const std::vector<int32_t>& y, const std::vector<double>& score,
                  int32_t pos_label) {
  const ClfCurve c = binary_clf_curve(y, score, pos_label);
  require_positive(fn, c, pos_label);
  return ap_from_counts(c);
}

std::vector<int64_t> bincount(const std::vector<int32_t>& y, int n_classes) {
  std::vector<int64_t> out(static_cast<size_t>(n_classes), 0);
  for (int32_t v : y) ++out[static_cast<size_t>(v)];
  return out;
}

/// Classes present in y_true or y_pred (sklearn/imblearn unique_labels).
std::vector<bool> present_union(const std::vector<int32_t>& y_true,
                                const std::vector<int32_t>& y_pred, int n_classes) {
  std::vector<bool> present(static_cast<size_t>(n_classes), false);
  for (int32_t v : y_true) present[static_cast<size_t>(v)] = true;
  for (int32_t v : y_pred) present[static_cast<size_t>(v)] = true;
  return present;
}

double ratio_or_zero(double num, double den) { return den == 0 ? 0.0 : num / den; }

ThresholdChoice choose_threshold(const char* fn, const std::vector<int32_t>& y,
                                 const std::vector<double>& score, int32_t pos_label,
                                 const CostModel* costs) {
  check_binary_input(fn, y, score);
  const ClfCurve c = binary_clf_curve(y, score, pos_label);
  require_positive(fn, c, pos_label);
  const double n = static_cast<double>(y.size());
  const double n_pos = c.n_pos();
  const size_t m = c.tps.size();
  ThresholdChoice out;
  out.thresholds.reserve(m + 1);
  out.values.reserve(m + 1);
  auto value = [&](double tp, double fp) {
    const double fn_count = n_pos - tp;
    if (costs == nullptr) return ratio_or_zero(2 * tp, 2 * tp + fp + fn_count);
    return (costs->benefit_tp * tp - costs->cost_fp * fp - costs->cost_fn * fn_count) / n;
  };
  for (size_t jj = 0; jj <= m; ++jj) {
    if (jj < m) {
      const size_t j = m - 1 - jj;
      out.thresholds.push_back(c.thresholds[j]);
      out.values.push_back(value(c.tps[j], c.fps[j]));
    } else {
      out.thresholds.push_back(std::numeric_limits<double>::infinity());
      out.values.push_back(value(0, 0));
    }
  }
  size_t best = 0;
  for (size_t j = 1; j < out.values.size(); ++j) {
    if (out.values[j] >= out.values[best]) best = j;
  }
  out.threshold = out.thresholds[best];
  out.value = out.values[best];
  return out;
}

}  // namespace

// --- predicted labels ----------------------------------------------------------------------

std::vector<int32_t> predict_argmax(ProbaView proba) {
  RF_CHECK_INPUT(proba.cols >= 1, "predict_argmax: proba has no class columns");
  check_finite("predict_argmax", proba.data, proba.rows * proba.cols, proba.cols, "proba");
  std::vector<int32_t> out(proba.rows);
  for (size_t i = 0; i < proba.rows; ++i) {
    size_t best = 0;
    for (size_t k = 1; k < proba.cols; ++k) {
      if (proba(i, k) > proba(i, best)) best = k;
    }
    out[i] = static_cast<int32_t>(best);
  }
  return out;
}

std::vector<int32_t> predict_threshold(const std::vector<double>& score, double threshold) {
  RF_CHECK_INPUT(!std::isnan(threshold), "predict_threshold: the threshold is NaN");
  check_finite("predict_threshold", score.data(), score.size(), 1, "score");
  std::vector<int32_t> out(score.size());
  for (size_t i = 0; i < score.size(); ++i) out[i] = score[i] >= threshold ? 1 : 0;
  return out;
}

std::vector<double> column(ProbaView proba, size_t k) {
  RF_CHECK_INPUT(k < proba.cols, "column: class {} is not one of the {} columns", k, proba.cols);
  std::vector<double> out(proba.rows);
  for (size_t i = 0; i < proba.rows; ++i) out[i] = proba(i, k);
  return out;
}

// --- metrics on predicted labels -------------------------------------------------------------

CountMatrix confusion_matrix(const std::vector<int32_t>& y_true, const std::vector<int32_t>& y_pred,
                             int n_classes) {
  check_label_pair("confusion_matrix", y_true, y_pred, n_classes);
  CountMatrix cm = CountMatrix::Zero(n_classes, n_classes);
  for (size_t i = 0; i < y_true.size(); ++i) ++cm(y_true[i], y_pred[i]);
  return cm;
}

double accuracy(const std::vector<int32_t>& y_true, const std::vector<int32_t>& y_pred,
                int n_classes) {
  check_label_pair("accuracy", y_true, y_pred, n_classes);
  int64_t hits = 0;
  for (size_t i = 0; i < y_true.size(); ++i) hits += y_true[i] == y_pred[i];
  return static_cast<double>(hits) / static_cast<double>(y_true.size());
}

double balanced_accuracy(const std::vector<int32_t>& y_true, const std::vector<int32_t>& y_pred,
                         int n_classes) {
  check_label_pair("balanced_accuracy", y_true, y_pred, n_classes);
  const std::vector<int64_t> support = bincount(y_true, n_classes);
  std::vector<int64_t> hits(static_cast<size_t>(n_classes), 0);
  for (size_t i = 0; i < y_true.size(); ++i) hits[y_true[i]] += y_true[i] == y_pred[i];
  double sum = 0;
  int used = 0;
  for (int k = 0; k < n_classes; ++k) {
    if (support[k] == 0) continue;
    sum += static_cast<double>(hits[k]) / static_cast<double>(support[k]);
    ++used;
  }
  return sum / used;
}

ClassReport precision_recall_f1(const std::vector<int32_t>& y_true,
                                const std::vector<int32_t>& y_pred, int n_classes) {
  check_label_pair("precision_recall_f1", y_true, y_pred, n_classes);
  const size_t k_n = static_cast<size_t>(n_classes);
  std::vector<int64_t> tp(k_n, 0), pred(k_n, 0);
  for (size_t i = 0; i < y_true.size(); ++i) {
    ++pred[y_pred[i]];
    tp[y_true[i]] += y_true[i] == y_pred[i];
  }
  ClassReport r;
  r.support = bincount(y_true, n_classes);
  r.precision.resize(k_n);
  r.recall.resize(k_n);
  r.f1.resize(k_n);
  const std::vector<bool> present = present_union(y_true, y_pred, n_classes);
  int used = 0;
  for (size_t k = 0; k < k_n; ++k) {
    const double p = ratio_or_zero(static_cast<double>(tp[k]), static_cast<double>(pred[k]));
    const double rc = ratio_or_zero(static_cast<double>(tp[k]), static_cast<double>(r.support[k]));
    r.precision[k] = p;
    r.recall[k] = rc;
    r.f1[k] = ratio_or_zero(2 * p * rc, p + rc);
    if (!present[k]) continue;
    r.macro_precision += p;
    r.macro_recall += rc;
    r.macro_f1 += r.f1[k];
    ++used;
  }
  r.macro_precision /= used;
  r.macro_recall /= used;
  r.macro_f1 /= used;
  return r;
}

double geometric_mean(const std::vector<int32_t>& y_true, const std::vector<int32_t>& y_pred,
                      int n_classes) {
  check_label_pair("geometric_mean", y_true, y_pred, n_classes);
  const std::vector<int64_t> support = bincount(y_true, n_classes);
  std::vector<int64_t> hits(static_cast<size_t>(n_classes), 0);
  for (size_t i = 0; i < y_true.size(); ++i) hits[y_true[i]] += y_true[i] == y_pred[i];
  const std::vector<bool> present = present_union(y_true, y_pred, n_classes);
  double log_sum = 0;
  int used = 0;
  for (int k = 0; k < n_classes; ++k) {
    if (!present[k]) continue;
    const double recall =
        ratio_or_zero(static_cast<double>(hits[k]), static_cast<double>(support[k]));
    if (recall == 0) return 0.0;
    log_sum += std::log(recall);
    ++used;
  }
  return std::exp(log_sum / used);
}

double matthews_corrcoef(const std::vector<int32_t>& y_true, const std::vector<int32_t>& y_pred,
                         int n_classes) {
  check_label_pair("matthews_corrcoef", y_true, y_pred, n_classes);
  const std::vector<int64_t> t = bincount(y_true, n_classes);
  const std::vector<int64_t> p = bincount(y_pred, n_classes);
  int64_t correct = 0;
  for (size_t i = 0; i < y_true.size(); ++i) correct += y_true[i] == y_pred[i];
  const double s = static_cast<double>(y_true.size());
  double tp_dot = 0, pp_dot = 0, tt_dot = 0;
  for (int k = 0; k < n_classes; ++k) {
    const double tk = static_cast<double>(t[k]), pk = static_cast<double>(p[k]);
    tp_dot += tk * pk;
    pp_dot += pk * pk;
    tt_dot += tk * tk;
  }
  const double cov_tp = static_cast<double>(correct) * s - tp_dot;
  const double cov_pp = s * s - pp_dot;
  const double cov_tt = s * s - tt_dot;
  if (cov_pp * cov_tt == 0) return 0.0;
  return cov_tp / std::sqrt(cov_tt * cov_pp);
}

// --- metrics on scores -----------------------------------------------------------------------

double roc_auc_binary(const std::vector<int32_t>& y_true, const std::vector<double>& score,
                      int32_t pos_label) {
  check_binary_input("roc_auc_binary", y_true, score);
  return roc_auc_checked("roc_auc_binary", y_true, score, pos_label);
}

std::vector<double> roc_auc_per_class(const std::vector<int32_t>& y_true, ProbaView proba) {
  check_proba("roc_auc", y_true, proba, 2);
  std::vector<double> out(proba.cols);
  for (size_t k = 0; k < proba.cols; ++k) {
    out[k] = roc_auc_checked("roc_auc", y_true, column(proba, k), static_cast<int32_t>(k));
  }
  return out;
}

double roc_auc(const std::vector<int32_t>& y_true, ProbaView proba) {
  check_proba("roc_auc", y_true, proba, 2);
  if (proba.cols == 2) return roc_auc_checked("roc_auc", y_true, column(proba, 1), 1);
  const std::vector<double> per = roc_auc_per_class(y_true, proba);
  return std::accumulate(per.begin(), per.end(), 0.0) / static_cast<double>(per.size());
}

double average_precision_binary(const std::vector<int32_t>& y_true,
                                const std::vector<double>& score, int32_t pos_label) {
  check_binary_input("average_precision_binary", y_true, score);
  return ap_checked("average_precision_binary", y_true, score, pos_label);
}

std::vector<double> average_precision_per_class(const std::vector<int32_t>& y_true,
                                                ProbaView proba) {
  check_proba("average_precision", y_true, proba, 2);
  std::vector<double> out(proba.cols);
  for (size_t k = 0; k < proba.cols; ++k) {
    out[k] = ap_checked("average_precision", y_true, column(proba, k), static_cast<int32_t>(k));
  }
  return out;
}

double average_precision(const std::vector<int32_t>& y_true, ProbaView proba) {
  check_proba("average_precision", y_true, proba, 2);
  if (proba.cols == 2) return ap_checked("average_precision", y_true, column(proba, 1), 1);
  const std::vector<double> per = average_precision_per_class(y_true, proba);
  return std::accumulate(per.begin(), per.end(), 0.0) / static_cast<double>(per.size());
}

double brier_score_binary(const std::vector<int32_t>& y_true, const std::vector<double>& prob,
                          int32_t pos_label) {
  check_binary_input("brier_score_binary", y_true, prob);
  double sum = 0;
  for (size_t i = 0; i < prob.size(); ++i) {
    RF_CHECK_INPUT(prob[i] >= 0 && prob[i] <= 1,
                   "brier_score_binary: prob[{}] = {} is outside [0, 1]", i, prob[i]);
    const double d = (y_true[i] == pos_label ? 1.0 : 0.0) - prob[i];
    sum += d * d;
  }
  return sum / static_cast<double>(prob.size());
}

double brier_score_multiclass(const std::vector<int32_t>& y_true, ProbaView proba) {
  check_proba("brier_score_multiclass", y_true, proba, 1);
  double sum = 0;
  for (size_t i = 0; i < proba.rows; ++i) {
    double row = 0;
    for (size_t k = 0; k < proba.cols; ++k) {
      const double p = proba(i, k);
      RF_CHECK_INPUT(p >= 0 && p <= 1,
                     "brier_score_multiclass: proba row {} class {} = {} is outside [0, 1]", i, k,
                     p);
      const double d = p - (static_cast<size_t>(y_true[i]) == k ? 1.0 : 0.0);
      row += d * d;
    }
    sum += row;
  }
  return sum / static_cast<double>(proba.rows);
}

double brier_score(const std::vector<int32_t>& y_true, ProbaView proba) {
  check_proba("brier_score", y_true, proba, 2);
  if (proba.cols == 2) return brier_score_binary(y_true, column(proba, 1), 1);
  return brier_score_multiclass(y_true, proba);
}

double log_loss(const std::vector<int32_t>& y_true, ProbaView proba) {
  check_proba("log_loss", y_true, proba, 2);
  const double eps = std::numeric_limits<double>::epsilon();
  auto clip = [eps](double p) { return std::min(std::max(p, eps), 1.0 - eps); };
  double sum = 0;
  for (size_t i = 0; i < proba.rows; ++i) {
    double row = 0;
    for (size_t k = 0; k < proba.cols; ++k) row += clip(proba(i, k));
    sum += -std::log(clip(proba(i, static_cast<size_t>(y_true[i]))) / row);
  }
  return sum / static_cast<double>(proba.rows);
}

// --- curves ----------------------------------------------------------------------------------

RocCurve roc_curve(const std::vector<int32_t>& y_true, const std::vector<double>& score,
                   int32_t pos_label, bool drop_intermediate) {
  check_binary_input("roc_curve", y_true, score);
  const ClfCurve c = binary_clf_curve(y_true, score, pos_label);
  require_positive("roc_curve", c, pos_label);
  require_negative("roc_curve", c, pos_label);
  return roc_from_counts(c, drop_intermediate);
}

PrCurve precision_recall_curve(const std::vector<int32_t>& y_true, const std::vector<double>& score,
                               int32_t pos_label) {
  check_binary_input("precision_recall_curve", y_true, score);
  const ClfCurve c = binary_clf_curve(y_true, score, pos_label);
  require_positive("precision_recall_curve", c, pos_label);
  const size_t m = c.tps.size();
  PrCurve r;
  r.precision.reserve(m + 1);
  r.recall.reserve(m + 1);
  r.thresholds.reserve(m);
  for (size_t jj = 0; jj < m; ++jj) {
    const size_t j = m - 1 - jj;
    r.precision.push_back(c.tps[j] / (c.tps[j] + c.fps[j]));
    r.recall.push_back(c.tps[j] / c.n_pos());
    r.thresholds.push_back(c.thresholds[j]);
  }
  r.precision.push_back(1.0);
  r.recall.push_back(0.0);
  return r;
}

// --- thresholds ------------------------------------------------------------------------------

ThresholdChoice choose_threshold_max_f1(const std::vector<int32_t>& y_true,
                                        const std::vector<double>& score, int32_t pos_label) {
  return choose_threshold("choose_threshold_max_f1", y_true, score, pos_label, nullptr);
}

ThresholdChoice choose_threshold_cost(const std::vector<int32_t>& y_true,
                                      const std::vector<double>& score, const CostModel& costs,
                                      int32_t pos_label) {
  const std::pair<const char*, double> fields[] = {
      {"benefit_tp", costs.benefit_tp}, {"cost_fp", costs.cost_fp}, {"cost_fn", costs.cost_fn}};
  for (const auto& [name, v] : fields) {
    RF_CHECK_INPUT(std::isfinite(v) && v >= 0,
                   "choose_threshold_cost: {} = {} must be a finite number >= 0 (costs are "
                   "subtracted, so give them as positive amounts)",
                   name, v);
  }
  return choose_threshold("choose_threshold_cost", y_true, score, pos_label, &costs);
}

// --- evaluate --------------------------------------------------------------------------------

std::vector<std::pair<std::string, double>> Scores::items() const {
  return {{"accuracy", accuracy},
          {"balanced_accuracy", balanced_accuracy},
          {"macro_precision", macro_precision},
          {"macro_recall", macro_recall},
          {"macro_f1", macro_f1},
          {"g_mean", g_mean},
          {"mcc", mcc},
          {"roc_auc", roc_auc},
          {"pr_auc", pr_auc},
          {"brier", brier},
          {"log_loss", log_loss}};
}

Scores evaluate(const std::vector<int32_t>& y_true, ProbaView proba, const EvaluateOptions& opt) {
  check_proba("evaluate", y_true, proba, 2);
  const int k_n = static_cast<int>(proba.cols);
  if (k_n == 2) {
    RF_CHECK_INPUT(opt.pos_label == 0 || opt.pos_label == 1,
                   "evaluate: pos_label = {} is not a class of a binary problem (0 or 1)",
                   opt.pos_label);
  } else {
    RF_CHECK_INPUT(std::isnan(opt.threshold),
                   "evaluate: a decision threshold applies to binary problems only ({} classes "
                   "here); leave it unset to predict by argmax",
                   k_n);
  }
  Scores s;
  s.n_classes = k_n;
  s.n_rows = static_cast<int64_t>(proba.rows);
  // One sort per class serves both the ROC-AUC and the AP of that class.
  s.roc_auc_per_class.resize(proba.cols);
  s.pr_auc_per_class.resize(proba.cols);
  for (size_t k = 0; k < proba.cols; ++k) {
    const auto label = static_cast<int32_t>(k);
    const ClfCurve c = binary_clf_curve(y_true, column(proba, k), label);
    require_positive("evaluate", c, label);
    require_negative("evaluate", c, label);
    const RocCurve r = roc_from_counts(c, true);
    s.roc_auc_per_class[k] = trapezoid(r.fpr, r.tpr);
    s.pr_auc_per_class[k] = ap_from_counts(c);
  }
  std::vector<int32_t> y_pred;
  if (k_n == 2) {
    const auto pos = static_cast<size_t>(opt.pos_label);
    const std::vector<double> score = column(proba, pos);
    s.roc_auc = s.roc_auc_per_class[pos];
    s.pr_auc = s.pr_auc_per_class[pos];
    s.brier = brier_score_binary(y_true, score, opt.pos_label);
    if (std::isnan(opt.threshold)) {
      y_pred = predict_argmax(proba);
    } else {
      y_pred.resize(score.size());
      for (size_t i = 0; i < score.size(); ++i) {
        y_pred[i] = score[i] >= opt.threshold ? opt.pos_label : 1 - opt.pos_label;
      }
    }
  } else {
    s.roc_auc = std::accumulate(s.roc_auc_per_class.begin(), s.roc_auc_per_class.end(), 0.0) / k_n;
    s.pr_auc = std::accumulate(s.pr_auc_per_class.begin(), s.pr_auc_per_class.end(), 0.0) / k_n;
    s.brier = brier_score_multiclass(y_true, proba);
    y_pred = predict_argmax(proba);
  }
  s.log_loss = log_loss(y_true, proba);
  s.accuracy = accuracy(y_true, y_pred, k_n);
  s.balanced_accuracy = balanced_accuracy(y_true, y_pred, k_n);
  s.per_class = precision_recall_f1(y_true, y_pred, k_n);
  s.macro_precision = s.per_class.macro_precision;
  s.macro_recall = s.per_class.macro_recall;
  s.macro_f1 = s.per_class.macro_f1;
  s.g_mean = geometric_mean(y_true, y_pred, k_n);
  s.mcc = matthews_corrcoef(y_true, y_pred, k_n);
  s.confusion = confusion_matrix(y_true, y_pred, k_n);
  return s;
}

}  // namespace rareforge::metrics
