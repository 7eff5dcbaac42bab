// Metrics against scikit-learn 1.2.1 / imbalanced-learn 0.10 (tests/fixtures/metrics.json, made
// by tests/fixtures/make_metrics_fixture.py) and against hand-computed small cases.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "classifiers/metrics.h"
#include "core/error.h"

namespace rareforge::metrics {
namespace {

using nlohmann::json;

constexpr double kTol = 1e-9;
const double kInf = std::numeric_limits<double>::infinity();

void expect_close(double got, double want, const std::string& what) {
  EXPECT_NEAR(got, want, kTol * std::max(1.0, std::fabs(want))) << what;
}

void expect_close(const std::vector<double>& got, const std::vector<double>& want,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    expect_close(got[i], want[i], what + "[" + std::to_string(i) + "]");
}

/// Thresholds are input scores (or max + 1): they must match bit for bit.
void expect_same(const std::vector<double>& got, const std::vector<double>& want,
                 const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], want[i]) << what << "[" << i << "]";
}

double threshold_value(const json& j) { return j.is_string() ? kInf : j.get<double>(); }

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

const json& fixture() {
  static const json doc = [] {
    std::ifstream in(std::string(RAREFORGE_SOURCE_DIR) + "/tests/fixtures/metrics.json");
    if (!in) throw std::runtime_error("cannot open tests/fixtures/metrics.json");
    return json::parse(in);
  }();
  return doc;
}

struct Case {
  std::string name;
  int k = 0;
  std::vector<int32_t> y;
  MatrixRM proba;
  double threshold = std::numeric_limits<double>::quiet_NaN();
  const json* expected = nullptr;
};

std::vector<Case> load_cases() {
  std::vector<Case> out;
  for (const json& c : fixture().at("cases")) {
    Case cs;
    cs.name = c.at("name").get<std::string>();
    cs.k = c.at("n_classes").get<int>();
    cs.y = c.at("y").get<std::vector<int32_t>>();
    const auto rows = c.at("proba").get<std::vector<std::vector<double>>>();
    cs.proba.resize(static_cast<Eigen::Index>(rows.size()), cs.k);
    for (size_t i = 0; i < rows.size(); ++i) {
      for (int k = 0; k < cs.k; ++k) cs.proba(static_cast<Eigen::Index>(i), k) = rows[i][k];
    }
    if (!c.at("threshold").is_null()) cs.threshold = c.at("threshold").get<double>();
    cs.expected = &c.at("expected");
    out.push_back(std::move(cs));
  }
  return out;
}

std::vector<int32_t> predictions(const Case& c) {
  if (std::isnan(c.threshold)) return predict_argmax(c.proba);
  return predict_threshold(column(c.proba, 1), c.threshold);
}

TEST(MetricsFixture, HasCasesWithTies) {
  const auto cases = load_cases();
  ASSERT_GE(cases.size(), 8u);
  int with_ties = 0;
  for (const Case& c : cases) {
    std::vector<double> s = column(c.proba, 0);
    std::sort(s.begin(), s.end());
    if (std::adjacent_find(s.begin(), s.end()) != s.end()) ++with_ties;
  }
  EXPECT_GE(with_ties, 5);
}

TEST(MetricsFixture, LabelMetricsMatchSklearn) {
  for (const Case& c : load_cases()) {
    SCOPED_TRACE(c.name + " (n=" + std::to_string(c.y.size()) + ", K=" + std::to_string(c.k) + ")");
    const json& e = *c.expected;
    const std::vector<int32_t> pred = predictions(c);
    ASSERT_EQ(pred, e.at("y_pred").get<std::vector<int32_t>>());
    expect_close(accuracy(c.y, pred, c.k), e.at("accuracy"), "accuracy");
    expect_close(balanced_accuracy(c.y, pred, c.k), e.at("balanced_accuracy"), "balanced_accuracy");
    const ClassReport r = precision_recall_f1(c.y, pred, c.k);
    expect_close(r.precision, e.at("precision").get<std::vector<double>>(), "precision");
    expect_close(r.recall, e.at("recall").get<std::vector<double>>(), "recall");
    expect_close(r.f1, e.at("f1").get<std::vector<double>>(), "f1");
    EXPECT_EQ(r.support, e.at("support").get<std::vector<int64_t>>());
    expect_close(r.macro_precision, e.at("macro_precision"), "macro_precision");
    expect_close(r.macro_recall, e.at("macro_recall"), "macro_recall");
    expect_close(r.macro_f1, e.at("macro_f1"), "macro_f1");
    expect_close(matthews_corrcoef(c.y, pred, c.k), e.at("mcc"), "mcc");
    expect_close(geometric_mean(c.y, pred, c.k), e.at("g_mean"), "g_mean");
    const CountMatrix cm = confusion_matrix(c.y, pred, c.k);
    const auto want = e.at("confusion").get<std::vector<std::vector<int64_t>>>();
    for (int t = 0; t < c.k; ++t) {
      for (int p = 0; p < c.k; ++p)
        EXPECT_EQ(cm(t, p), want[t][p]) << "confusion " << t << "," << p;
    }
  }
}

TEST(MetricsFixture, ScoreMetricsMatchSklearn) {
  for (const Case& c : load_cases()) {
    SCOPED_TRACE(c.name);
    const json& e = *c.expected;
    expect_close(roc_auc(c.y, c.proba), e.at("roc_auc"), "roc_auc");
    expect_close(average_precision(c.y, c.proba), e.at("average_precision"), "average_precision");
    expect_close(brier_score(c.y, c.proba), e.at("brier"), "brier");
    expect_close(brier_score_multiclass(c.y, c.proba), e.at("brier_multiclass"),
                 "brier_multiclass");
    expect_close(log_loss(c.y, c.proba), e.at("log_loss"), "log_loss");
    const auto per_auc = roc_auc_per_class(c.y, c.proba);
    const auto per_ap = average_precision_per_class(c.y, c.proba);
    for (int k = 0; k < c.k; ++k) {
      const json& pc = e.at("per_class")[k];
      expect_close(per_auc[k], pc.at("roc_auc"), "roc_auc class " + std::to_string(k));
      expect_close(per_ap[k], pc.at("average_precision"), "ap class " + std::to_string(k));
    }
    if (c.k == 2) {
      const std::vector<double> s = column(c.proba, 1);
      expect_close(roc_auc_binary(c.y, s), e.at("roc_auc"), "roc_auc_binary");
      expect_close(average_precision_binary(c.y, s), e.at("average_precision"), "ap_binary");
      expect_close(brier_score_binary(c.y, s), e.at("brier"), "brier_binary");
    }
  }
}

TEST(MetricsFixture, CurvesMatchSklearnPointForPoint) {
  for (const Case& c : load_cases()) {
    for (int k = 0; k < c.k; ++k) {
      SCOPED_TRACE(c.name + " class " + std::to_string(k));
      const json& pc = c.expected->at("per_class")[k];
      const std::vector<double> s = column(c.proba, static_cast<size_t>(k));
      const RocCurve roc = roc_curve(c.y, s, k);
      expect_close(roc.fpr, pc.at("roc").at("fpr").get<std::vector<double>>(), "fpr");
      expect_close(roc.tpr, pc.at("roc").at("tpr").get<std::vector<double>>(), "tpr");
      expect_same(roc.thresholds, pc.at("roc").at("thresholds").get<std::vector<double>>(), "thr");
      const RocCurve full = roc_curve(c.y, s, k, /*drop_intermediate=*/false);
      expect_close(full.fpr, pc.at("roc_full").at("fpr").get<std::vector<double>>(), "fpr full");
      expect_close(full.tpr, pc.at("roc_full").at("tpr").get<std::vector<double>>(), "tpr full");
      expect_same(full.thresholds, pc.at("roc_full").at("thresholds").get<std::vector<double>>(),
                  "thr full");
      const PrCurve pr = precision_recall_curve(c.y, s, k);
      expect_close(pr.precision, pc.at("pr").at("precision").get<std::vector<double>>(), "prec");
      expect_close(pr.recall, pc.at("pr").at("recall").get<std::vector<double>>(), "recall");
      expect_same(pr.thresholds, pc.at("pr").at("thresholds").get<std::vector<double>>(), "pthr");
    }
  }
}

TEST(MetricsFixture, ThresholdSelectionMatchesBruteForce) {
  int n_binary = 0, n_inf = 0;
  for (const Case& c : load_cases()) {
    if (c.k != 2) continue;
    ++n_binary;
    SCOPED_TRACE(c.name);
    const json& t = c.expected->at("thresholds");
    const std::vector<double> s = column(c.proba, 1);
    std::vector<double> cand = t.at("thresholds_finite").get<std::vector<double>>();
    cand.push_back(kInf);

    const ThresholdChoice f1 = choose_threshold_max_f1(c.y, s);
    expect_same(f1.thresholds, cand, "f1 thresholds");
    expect_close(f1.values, t.at("max_f1").at("values").get<std::vector<double>>(), "f1 values");
    EXPECT_EQ(f1.threshold, threshold_value(t.at("max_f1").at("threshold")));
    expect_close(f1.value, t.at("max_f1").at("value"), "f1 value");

    const json& cj = t.at("cost");
    CostModel cm{cj.at("benefit_tp").get<double>(), cj.at("cost_fp").get<double>(),
                 cj.at("cost_fn").get<double>()};
    const ThresholdChoice cost = choose_threshold_cost(c.y, s, cm);
    expect_same(cost.thresholds, cand, "cost thresholds");
    expect_close(cost.values, cj.at("values").get<std::vector<double>>(), "cost values");
    EXPECT_EQ(cost.threshold, threshold_value(cj.at("threshold")));
    expect_close(cost.value, cj.at("value"), "cost value");
    if (std::isinf(cost.threshold)) ++n_inf;
  }
  EXPECT_GE(n_binary, 5);
  EXPECT_GE(n_inf, 1);  // the fixture covers "flag nothing"
}

TEST(MetricsFixture, EvaluateAgreesWithTheSingleFunctions) {
  for (const Case& c : load_cases()) {
    SCOPED_TRACE(c.name);
    const json& e = *c.expected;
    EvaluateOptions opt;
    opt.threshold = c.threshold;
    const Scores s = evaluate(c.y, c.proba, opt);
    expect_close(s.accuracy, e.at("accuracy"), "accuracy");
    expect_close(s.balanced_accuracy, e.at("balanced_accuracy"), "balanced_accuracy");
    expect_close(s.macro_f1, e.at("macro_f1"), "macro_f1");
    expect_close(s.g_mean, e.at("g_mean"), "g_mean");
    expect_close(s.mcc, e.at("mcc"), "mcc");
    expect_close(s.roc_auc, e.at("roc_auc"), "roc_auc");
    expect_close(s.pr_auc, e.at("average_precision"), "pr_auc");
    expect_close(s.brier, e.at("brier"), "brier");
    expect_close(s.log_loss, e.at("log_loss"), "log_loss");
    EXPECT_EQ(s.items().size(), 11u);
    EXPECT_EQ(s.items()[8].first, "pr_auc");
  }
}

// --- hand-computed cases ----------------------------------------------------------------------

TEST(Metrics, SklearnDocstringPrCurve) {
  const std::vector<int32_t> y{0, 0, 1, 1};
  const std::vector<double> s{0.1, 0.4, 0.35, 0.8};
  const PrCurve pr = precision_recall_curve(y, s);
  expect_close(pr.precision, {0.5, 2.0 / 3.0, 0.5, 1.0, 1.0}, "precision");
  expect_close(pr.recall, {1.0, 1.0, 0.5, 0.5, 0.0}, "recall");
  expect_same(pr.thresholds, {0.1, 0.35, 0.4, 0.8}, "thresholds");
  // AP = (1 - .5) * 2/3 + (.5 - 0) * 1 ; AUC: 3 of 4 pairs ordered.
  expect_close(average_precision_binary(y, s), 0.5 * 2.0 / 3.0 + 0.5, "ap");
  expect_close(roc_auc_binary(y, s), 0.75, "auc");
  const RocCurve roc = roc_curve(y, s, 1, false);
  expect_close(roc.fpr, {0, 0, 0.5, 0.5, 1}, "fpr");
  expect_close(roc.tpr, {0, 0.5, 0.5, 1, 1}, "tpr");
  expect_same(roc.thresholds, {0.8 + 1, 0.8, 0.4, 0.35, 0.1}, "thr");  // sklearn 1.2: max + 1
}

TEST(Metrics, TiesCountAsHalfAndEnterTogether) {
  const std::vector<int32_t> y{0, 1, 0, 1, 1};
  const std::vector<double> all_same(5, 0.5);
  expect_close(roc_auc_binary(y, all_same), 0.5, "auc all tied");
  expect_close(average_precision_binary(y, all_same), 0.6, "ap all tied = prevalence");
  const PrCurve pr = precision_recall_curve(y, all_same);
  EXPECT_EQ(pr.thresholds.size(), 1u);
  // One tie straddling the classes: pairs (neg 0.3, pos 0.3) count 1/2.
  const std::vector<double> s{0.3, 0.3, 0.1, 0.9, 0.2};
  // positives 0.3, 0.9, 0.2 vs negatives 0.3, 0.1: ordered pairs 0.5+1 + 1+1 + 0+1 = 4.5 of 6.
  expect_close(roc_auc_binary(y, s), 4.5 / 6.0, "auc half tie");
}

TEST(Metrics, RocAucEqualsMannWhitneyBruteForce) {
  std::mt19937_64 gen(11);
  std::uniform_int_distribution<int> score(0, 20);  // few distinct values: many ties
  std::bernoulli_distribution pos(0.2);
  const size_t n = 400;
  std::vector<int32_t> y(n);
  std::vector<double> s(n);
  for (size_t i = 0; i < n; ++i) {
    y[i] = pos(gen) ? 1 : 0;
    s[i] = score(gen) / 20.0 + 0.01 * y[i] * (i % 3 == 0);
  }
  double pairs = 0, good = 0;
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < n; ++j) {
      if (y[i] != 1 || y[j] != 0) continue;
      pairs += 1;
      good += s[i] > s[j] ? 1.0 : (s[i] == s[j] ? 0.5 : 0.0);
    }
  }
  EXPECT_NEAR(roc_auc_binary(y, s), good / pairs, 1e-12) << "n=" << n;
}

TEST(Metrics, SeparableScoresReachOne) {
  const std::vector<int32_t> y{0, 0, 0, 1, 1, 2, 2};
  MatrixRM p(7, 3);
  p << 0.8, 0.1, 0.1, 0.7, 0.2, 0.1, 0.6, 0.3, 0.1,  //
      0.1, 0.8, 0.1, 0.2, 0.7, 0.1,                  //
      0.1, 0.1, 0.8, 0.0, 0.3, 0.7;
  EXPECT_DOUBLE_EQ(roc_auc(y, p), 1.0);
  EXPECT_DOUBLE_EQ(average_precision(y, p), 1.0);
  const auto pred = predict_argmax(p);
  EXPECT_DOUBLE_EQ(accuracy(y, pred, 3), 1.0);
  EXPECT_DOUBLE_EQ(matthews_corrcoef(y, pred, 3), 1.0);
  EXPECT_DOUBLE_EQ(geometric_mean(y, pred, 3), 1.0);
}

TEST(Metrics, LogLossClipsAndRenormalises) {
  // sklearn docstring: log_loss(["spam","ham","ham","spam"], [[.1,.9],[.9,.1],[.8,.2],[.35,.65]])
  const std::vector<int32_t> y{1, 0, 0, 1};
  const std::vector<double> p{.1, .9, .9, .1, .8, .2, .35, .65};
  const double want = -(std::log(0.9) + std::log(0.9) + std::log(0.8) + std::log(0.65)) / 4;
  expect_close(log_loss(y, ProbaView(p, 2)), want, "docstring");
  EXPECT_NEAR(log_loss(y, ProbaView(p, 2)), 0.21616, 1e-5);
  // A zero probability on the true class: clipped to eps, row renormalised to 1 - eps + eps.
  const double eps = std::numeric_limits<double>::epsilon();
  const std::vector<double> q{1.0, 0.0};
  expect_close(log_loss({1}, ProbaView(q, 2)), -std::log(eps / ((1 - eps) + eps)), "clip");
  // Rows not summing to one are renormalised.
  const std::vector<double> r{0.2, 0.6};
  expect_close(log_loss({1}, ProbaView(r, 2)), -std::log(0.75), "renormalise");
}

TEST(Metrics, ArgmaxTiesGoToSmallestClassAndThresholdIsInclusive) {
  const std::vector<double> p{0.4, 0.4, 0.2, 0.2, 0.4, 0.4, 1.0 / 3, 1.0 / 3, 1.0 / 3};
  EXPECT_EQ(predict_argmax(ProbaView(p, 3)), (std::vector<int32_t>{0, 1, 0}));
  EXPECT_EQ(predict_threshold({0.3, 0.29999, 0.7}, 0.3), (std::vector<int32_t>{1, 0, 1}));
}

TEST(Metrics, LabelMetricsByHand) {
  const std::vector<int32_t> y{0, 0, 1, 1};
  const std::vector<int32_t> p{0, 1, 1, 1};
  // TN = 1, FP = 1, FN = 0, TP = 2.
  EXPECT_DOUBLE_EQ(accuracy(y, p, 2), 0.75);
  EXPECT_DOUBLE_EQ(balanced_accuracy(y, p, 2), 0.75);
  EXPECT_NEAR(matthews_corrcoef(y, p, 2), 2.0 / std::sqrt(12.0), 1e-15);
  EXPECT_NEAR(geometric_mean(y, p, 2), std::sqrt(0.5), 1e-15);
  const ClassReport r = precision_recall_f1(y, p, 2);
  EXPECT_DOUBLE_EQ(r.precision[1], 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(r.recall[1], 1.0);
  EXPECT_NEAR(r.f1[1], 0.8, 1e-15);
  EXPECT_NEAR(r.f1[0], 2.0 / 3.0, 1e-15);

  // Class 2 only predicted, class 3 absent from both (K = 4).
  const std::vector<int32_t> y2{0, 0, 1, 1};
  const std::vector<int32_t> p2{0, 2, 1, 1};
  EXPECT_DOUBLE_EQ(balanced_accuracy(y2, p2, 4), 0.75);  // classes in y_true only
  const ClassReport r2 = precision_recall_f1(y2, p2, 4);
  EXPECT_EQ(r2.support, (std::vector<int64_t>{2, 2, 0, 0}));
  EXPECT_DOUBLE_EQ(r2.precision[2], 0.0);  // zero_division = 0
  EXPECT_DOUBLE_EQ(r2.recall[2], 0.0);
  EXPECT_NEAR(r2.macro_precision, 2.0 / 3.0, 1e-15);  // over classes {0, 1, 2}
  EXPECT_NEAR(r2.macro_recall, 0.5, 1e-15);
  EXPECT_DOUBLE_EQ(geometric_mean(y2, p2, 4), 0.0);  // class 2 has recall 0
  // One class only: MCC is 0 by convention.
  EXPECT_DOUBLE_EQ(matthews_corrcoef({1, 1}, {1, 1}, 2), 0.0);
  const CountMatrix cm = confusion_matrix(y2, p2, 4);
  EXPECT_EQ(cm(0, 2), 1);
  EXPECT_EQ(cm.sum(), 4);
}

TEST(Metrics, BrierBinaryAndMulticlass) {
  const std::vector<int32_t> y{0, 1, 1};
  const std::vector<double> p{0.9, 0.1, 0.4, 0.6, 0.0, 1.0};
  // positive column: 0.1, 0.6, 1.0 -> (0.01 + 0.16 + 0) / 3
  expect_close(brier_score(y, ProbaView(p, 2)), 0.17 / 3, "binary");
  expect_close(brier_score_multiclass(y, ProbaView(p, 2)), 2 * 0.17 / 3, "multi = 2x binary");
  EXPECT_THROW(brier_score_binary({0, 1}, {0.5, 1.5}), InputError);
}

TEST(Metrics, ThresholdChoiceByHand) {
  const std::vector<int32_t> y{0, 0, 1, 1};
  const std::vector<double> s{0.1, 0.4, 0.35, 0.8};
  const ThresholdChoice f1 = choose_threshold_max_f1(y, s);
  expect_same(f1.thresholds, {0.1, 0.35, 0.4, 0.8, kInf}, "candidates");
  expect_close(f1.values, {4.0 / 6, 0.8, 0.5, 2.0 / 3, 0.0}, "f1");
  EXPECT_EQ(f1.threshold, 0.35);
  // benefit 1, cost_fp 1: values (TP - FP) / 4 = 0, .25, 0, .25, 0 -> tie -> larger threshold.
  const ThresholdChoice tie = choose_threshold_cost(y, s, CostModel{1.0, 1.0, 0.0});
  expect_close(tie.values, {0, 0.25, 0, 0.25, 0}, "cost tie");
  EXPECT_EQ(tie.threshold, 0.8);
  // Positives score low and false alarms are dear: flag nothing (+inf), value 0.
  const ThresholdChoice none =
      choose_threshold_cost(y, {0.9, 0.1, 0.35, 0.2}, CostModel{1.0, 100.0, 0.0});
  EXPECT_TRUE(std::isinf(none.threshold));
  EXPECT_DOUBLE_EQ(none.value, 0.0);
  // Missed positives are dear: the threshold that flags every positive with the fewest false
  // alarms (0.35: FP = 1, FN = 0) wins over flagging everything (0.1: FP = 2).
  const ThresholdChoice all = choose_threshold_cost(y, s, CostModel{0.0, 1.0, 10.0});
  EXPECT_EQ(all.threshold, 0.35);
  EXPECT_DOUBLE_EQ(all.value, -0.25);
}

TEST(Metrics, ProbaFromVectorEqualsMatrix) {
  const std::vector<int32_t> y{0, 1, 2, 1, 0, 2};
  const std::vector<double> v{0.5, 0.3, 0.2, 0.2, 0.5, 0.3, 0.1, 0.2, 0.7,
                              0.3, 0.3, 0.4, 0.6, 0.2, 0.2, 0.3, 0.4, 0.3};
  MatrixRM m(6, 3);
  for (int i = 0; i < 6; ++i)
    for (int k = 0; k < 3; ++k) m(i, k) = v[i * 3 + k];
  EXPECT_EQ(roc_auc(y, m), roc_auc(y, ProbaView(v, 3)));
  EXPECT_EQ(average_precision(y, m), average_precision(y, {v, 3}));
  EXPECT_EQ(log_loss(y, m), log_loss(y, {v, 3}));
  EXPECT_THROW(ProbaView(v, 4), InputError);
}

TEST(Metrics, EvaluatePositiveLabelZero) {
  // Binary with class 0 as the rare, positive class: AP is of column 0.
  const std::vector<int32_t> y{0, 1, 1, 1, 0, 1};
  const std::vector<double> v{0.7, 0.3, 0.4, 0.6, 0.2, 0.8, 0.5, 0.5, 0.6, 0.4, 0.1, 0.9};
  EvaluateOptions opt;
  opt.pos_label = 0;
  const Scores s = evaluate(y, {v, 2}, opt);
  const std::vector<double> col0 = column(ProbaView(v, 2), 0);
  EXPECT_EQ(s.pr_auc, average_precision_binary(y, col0, 0));
  EXPECT_EQ(s.roc_auc, roc_auc_binary(y, col0, 0));
  opt.threshold = 0.5;  // predict class 0 where its score >= 0.5
  const Scores t = evaluate(y, {v, 2}, opt);
  // rows predicted 0 (column 0 >= 0.5): 0.7, 0.5, 0.6 with y = 0, 1, 0
  EXPECT_EQ(t.confusion(0, 0), 2);
  EXPECT_EQ(t.confusion(1, 0), 1);
  EXPECT_EQ(t.confusion(1, 1), 3);
  EXPECT_THROW(evaluate({0, 1, 2}, {std::vector<double>(9, 1.0 / 3), 3}, opt), InputError);
}

TEST(Metrics, InputErrorsNameTheFunctionAndProblem) {
  const std::vector<int32_t> y{0, 1, 1};
  auto has = [](const std::string& msg, const std::string& part) {
    return msg.find(part) != std::string::npos;
  };
  std::string m = message_of([&] { roc_auc_binary(y, {0.1, 0.2}); });
  EXPECT_TRUE(has(m, "roc_auc_binary") && has(m, "3 rows")) << m;
  m = message_of([&] { accuracy({0, 3}, {0, 1}, 3); });
  EXPECT_TRUE(has(m, "accuracy") && has(m, "outside")) << m;
  m = message_of([&] { roc_auc_binary(y, {0.1, std::nan(""), 0.3}); });
  EXPECT_TRUE(has(m, "roc_auc_binary") && has(m, "nan")) << m;
  m = message_of([&] { roc_auc_binary({1, 1, 1}, {0.1, 0.2, 0.3}); });
  EXPECT_TRUE(has(m, "roc_auc_binary") && has(m, "only one class")) << m;
  m = message_of([&] { average_precision_binary({0, 0}, {0.1, 0.2}); });
  EXPECT_TRUE(has(m, "average_precision_binary") && has(m, "positive label")) << m;
  const std::vector<double> p3{0.5, 0.3, 0.2, 0.2, 0.5, 0.3, 0.1, 0.2, 0.7};
  m = message_of([&] { roc_auc({0, 1, 1}, {p3, 3}); });  // class 2 absent
  EXPECT_TRUE(has(m, "roc_auc") && has(m, "label 2")) << m;
  m = message_of([&] { choose_threshold_cost(y, {0.1, 0.2, 0.3}, CostModel{1, -1, 0}); });
  EXPECT_TRUE(has(m, "cost_fp")) << m;
  m = message_of([&] { accuracy({}, {}, 2); });
  EXPECT_TRUE(has(m, "empty")) << m;
  m = message_of([&] { log_loss({0, 1}, {std::vector<double>{0.5, 0.5}, 1}); });
  EXPECT_TRUE(has(m, "log_loss")) << m;
}

}  // namespace
}  // namespace rareforge::metrics
