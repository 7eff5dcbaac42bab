// The comparison protocol (classifiers/compare.h) and the importances (classifiers/importance.h):
// a separable problem reaches AUC 1, shuffled labels stay at chance, test rows never reach any
// fit (checked with a spy classifier that records the rows it sees), the paired p-values are
// stats.h's on the per-seed numbers, permutation importance equals a brute-force recomputation,
// top-k frequencies by hand, output files parse and state the primary metric.
#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "classical/sampler.h"
#include "classifiers/classifier.h"
#include "classifiers/compare.h"
#include "classifiers/importance.h"
#include "classifiers/metrics.h"
#include "classifiers/stats.h"
#include "core/error.h"
#include "core/hdf5_util.h"
#include "core/rng.h"
#include "tests/test_util.h"

namespace rareforge::classifiers {
namespace {

Context ctx_with(uint64_t seed) {
  Context c;
  c.seed = seed;
  c.threads = 1;
  c.quiet = true;
  return c;
}

// n rows: column "id" = row index (+ id_offset), d Gaussian features x0.. of which x0 is shifted
// by `shift` for the minority class "rare" (every `every`-th row), target "y" (common / rare).
// shuffle_labels: labels permuted at random after the features are drawn (no signal).
// x0_noise = 0 makes x0 exactly shift * label: separable by any split between the two values
// (trees cut at a training value, so a continuous x0 could put a test row on the wrong side).
Table make_table(size_t n, int d, double shift, size_t every, uint64_t seed,
                 bool shuffle_labels = false, double id_offset = 0, bool with_id = true,
                 double x0_noise = 1.0) {
  Rng rng(seed);
  std::vector<int32_t> y(n);
  for (size_t i = 0; i < n; ++i) y[i] = i % every == 0 ? 1 : 0;
  std::vector<std::vector<double>> x(static_cast<size_t>(d), std::vector<double>(n));
  for (size_t i = 0; i < n; ++i)
    for (int j = 0; j < d; ++j)
      x[static_cast<size_t>(j)][i] =
          rng.normal() * (j == 0 ? x0_noise : 1.0) + (j == 0 ? shift * y[i] : 0.0);
  if (shuffle_labels) rng.shuffle(y);
  Table t;
  if (with_id) {
    std::vector<double> id(n);
    for (size_t i = 0; i < n; ++i) id[i] = static_cast<double>(i) + id_offset;
    t.add_column(Column::numeric("id", id));
  }
  for (int j = 0; j < d; ++j) t.add_column(Column::numeric("x" + std::to_string(j), x[j]));
  t.add_column(Column::categorical("y", {"common", "rare"}, y));
  t.set_target("y");
  return t;
}

Augmenter random_over() {
  std::shared_ptr<classical::Sampler> s = classical::make_sampler("random-over");
  return [s](const Table& t, const Context& c) {
    return s->resample(t, classical::SamplingRequest{}, c).table;
  };
}

TEST(CompareList, SplitsSpecsKeepingTheirParameters) {
  EXPECT_EQ(split_classifier_list("xgboost:max_depth=4,n_estimators=50,logreg"),
            (std::vector<std::string>{"xgboost:max_depth=4,n_estimators=50", "logreg"}));
  EXPECT_EQ(split_classifier_list("knn; logreg:alpha=0.01 ,xgboost"),
            (std::vector<std::string>{"knn", "logreg:alpha=0.01", "xgboost"}));
  EXPECT_THROW(split_classifier_list("max_depth=4,xgboost"), InputError);
  EXPECT_THROW(split_classifier_list(" , "), InputError);
}

TEST(TopK, FrequenciesByHand) {
  // Run 1: order 2,0,1,3 -> top2 {2,0}; run 2: 1,2 (tie 0/3 irrelevant) -> {1,2};
  // run 3: ties everywhere -> the smaller indices {0,1}.
  const std::vector<std::vector<double>> runs = {
      {0.5, 0.1, 0.9, 0.0}, {0.0, 0.8, 0.7, 0.0}, {0.3, 0.3, 0.3, 0.3}};
  const auto f = top_k_frequency(runs, 2);
  ASSERT_EQ(f.size(), 4u);
  EXPECT_DOUBLE_EQ(f[0], 2.0 / 3);
  EXPECT_DOUBLE_EQ(f[1], 2.0 / 3);
  EXPECT_DOUBLE_EQ(f[2], 2.0 / 3);
  EXPECT_DOUBLE_EQ(f[3], 0.0);
  const auto all = top_k_frequency(runs, 10);  // k capped at d
  for (double v : all) EXPECT_DOUBLE_EQ(v, 1.0);
  EXPECT_THROW(top_k_frequency({}, 2), InputError);
  EXPECT_THROW(top_k_frequency({{1, 2}, {1}}, 1), InputError);
  EXPECT_THROW(top_k_frequency(runs, 0), InputError);
}

// Permutation importance against a brute-force recomputation inside the test, with the same
// permutations (drawn from the documented stream in the documented order).
TEST(PermutationImportance, EqualsBruteForceAndRanksTheInformativeFeatureFirst) {
  const size_t n = 400;
  Rng rng(5);
  MatrixRM X(static_cast<Eigen::Index>(n), 4);
  std::vector<int32_t> y(n);
  for (size_t i = 0; i < n; ++i) {
    const auto r = static_cast<Eigen::Index>(i);
    y[i] = i % 4 == 0 ? 1 : 0;
    X(r, 0) = rng.normal() + 2.0 * y[i];  // informative
    X(r, 1) = rng.normal() + 0.5 * y[i];  // weak
    X(r, 2) = rng.normal();               // noise
    X(r, 3) = rng.normal();               // noise (grouped with 2 below)
  }
  auto clf = make_classifier("logreg");
  const Context ctx = ctx_with(9);
  clf->fit(X, y, 2, nullptr, ctx);

  for (const std::string metric : {"pr_auc", "log_loss"}) {
    SCOPED_TRACE(metric);
    PermutationOptions po;
    po.n_repeats = 4;
    po.metric = metric;
    po.groups = {{0}, {1}, {2, 3}};
    const auto pi = permutation_importance(*clf, X, y, po, ctx);
    ASSERT_EQ(pi.mean.size(), 3u);

    auto score = [&](const MatrixRM& M) {
      const MatrixRM p = clf->predict_proba(M);
      if (metric == "pr_auc") return metrics::average_precision_binary(y, metrics::column(p, 1));
      return metrics::log_loss(y, p);
    };
    const double base = score(X);
    EXPECT_DOUBLE_EQ(pi.baseline, base);
    Rng prng = ctx.rng(kPermutationStream);
    std::vector<std::vector<size_t>> perms;
    for (int r = 0; r < 4; ++r) perms.push_back(prng.permutation(n));
    for (size_t g = 0; g < po.groups.size(); ++g) {
      std::vector<double> imp;
      for (const auto& perm : perms) {
        MatrixRM Xp = X;
        for (size_t j : po.groups[g])
          for (size_t i = 0; i < n; ++i)
            Xp(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) =
                X(static_cast<Eigen::Index>(perm[i]), static_cast<Eigen::Index>(j));
        const double s = score(Xp);
        imp.push_back(metric == "pr_auc" ? base - s : s - base);
      }
      double mean = 0, ss = 0;
      for (double v : imp) mean += v / 4;
      for (double v : imp) ss += (v - mean) * (v - mean);
      EXPECT_NEAR(pi.mean[g], mean, 1e-12) << g;
      EXPECT_NEAR(pi.std[g], std::sqrt(ss / 4), 1e-12) << g;
      for (int r = 0; r < 4; ++r) EXPECT_NEAR(pi.repeats[g][static_cast<size_t>(r)], imp[r], 1e-12);
    }
    // The informative feature matters most, and more than the noise columns by a margin.
    EXPECT_GT(pi.mean[0], pi.mean[1]);
    EXPECT_GT(pi.mean[0], 0.05);
    EXPECT_GT(pi.mean[0], pi.mean[2] + 0.05);
  }
  // Default groups: one per column; bad input.
  PermutationOptions po;
  po.n_repeats = 2;
  EXPECT_EQ(permutation_importance(*clf, X, y, po, ctx).mean.size(), 4u);
  po.groups = {{0, 1}, {1}};
  EXPECT_THROW(permutation_importance(*clf, X, y, po, ctx), InputError);
  po.groups = {{7}};
  EXPECT_THROW(permutation_importance(*clf, X, y, po, ctx), InputError);
  po.groups = {};
  po.metric = "nope";
  EXPECT_THROW(permutation_importance(*clf, X, y, po, ctx), InputError);
}

TEST(Compare, SeparableProblemReachesAucOneInBothArms) {
  const Table t = make_table(300, 3, 1.0, 5, 1, false, 0, false, /*x0_noise=*/0.0);
  CompareOptions o;
  o.classifiers = {"xgboost:n_estimators=20", "logreg"};
  o.seeds = 3;
  o.augment = random_over();
  o.method = "random-over";
  const auto r = run_comparison(t, nullptr, o, ctx_with(0));
  ASSERT_EQ(r.classifiers.size(), 2u);
  ASSERT_EQ(r.seeds.size(), 3u);
  EXPECT_EQ(r.primary_metric, "pr_auc");
  EXPECT_EQ(r.class_names[static_cast<size_t>(r.minority)], "rare");
  EXPECT_EQ(r.pos_label, 1);
  EXPECT_NE(r.primary_description.find("'rare'"), std::string::npos) << r.primary_description;
  for (const auto& c : r.classifiers) {
    SCOPED_TRACE(c.spec);
    for (const char* m : {"roc_auc", "pr_auc"}) {
      for (double v : c.metric(m).baseline) EXPECT_EQ(v, 1.0) << m;
      for (double v : c.metric(m).augmented) EXPECT_EQ(v, 1.0) << m;
    }
    // Identical per-seed values: no test possible (NaN), not an error.
    EXPECT_TRUE(std::isnan(c.metric("pr_auc").paired.wilcoxon.p_value));
  }
  for (const auto& s : r.seeds) {
    EXPECT_EQ(s.n_train + s.n_test, 300);
    EXPECT_EQ(s.n_test, 60);
    EXPECT_EQ(s.augmented_counts[0], s.augmented_counts[1]);  // random-over balanced the classes
    EXPECT_EQ(s.n_synthetic, s.augmented_counts[1] - s.train_counts[1]);
  }
}

TEST(Compare, AugmentedArmOnlyRepeatsItInTheBaseline) {
  // train_baseline = false (the arena's mode): the augmented arm is what a full run gives, and
  // the baseline arm repeats it.
  const Table t = make_table(300, 3, 0.5, 5, 2, false, 0, false, /*x0_noise=*/1.0);
  CompareOptions o;
  o.classifiers = {"logreg"};
  o.seeds = 2;
  o.augment = random_over();
  o.method = "random-over";
  const auto full = run_comparison(t, nullptr, o, ctx_with(3));
  o.train_baseline = false;
  const auto half = run_comparison(t, nullptr, o, ctx_with(3));
  for (const char* m : {"pr_auc", "roc_auc", "log_loss"}) {
    EXPECT_EQ(half.classifiers[0].metric(m).augmented, full.classifiers[0].metric(m).augmented);
    EXPECT_EQ(half.classifiers[0].metric(m).baseline, half.classifiers[0].metric(m).augmented);
  }
}

TEST(Compare, MultiClassLeadsWithMacroPrAuc) {
  Rng rng(12);
  const size_t n = 240;
  std::vector<double> x0(n), x1(n);
  std::vector<int32_t> y(n);
  for (size_t i = 0; i < n; ++i) {
    y[i] = i % 8 == 0 ? 2 : (i % 3 == 0 ? 1 : 0);  // 140 / 70 / 30 rows
    x0[i] = rng.normal() + 3.0 * y[i];
    x1[i] = rng.normal();
  }
  Table t;
  t.add_column(Column::numeric("x0", x0));
  t.add_column(Column::numeric("x1", x1));
  t.add_column(Column::categorical("y", {"a", "b", "c"}, y));
  t.set_target("y");
  CompareOptions o;
  o.classifiers = {"logreg"};
  o.seeds = 2;
  o.augment = random_over();
  const auto r = run_comparison(t, nullptr, o, ctx_with(0));
  EXPECT_EQ(r.class_names[static_cast<size_t>(r.minority)], "c");
  EXPECT_NE(r.primary_description.find("macro PR-AUC"), std::string::npos);
  const auto& m = r.classifiers[0].metric("pr_auc");
  for (size_t s = 0; s < 2; ++s) {
    // Macro PR-AUC is the mean of the per-class APs.
    const auto& pc = r.classifiers[0].baseline[s].pr_auc_per_class;
    ASSERT_EQ(pc.size(), 3u);
    EXPECT_NEAR(m.baseline[s], (pc[0] + pc[1] + pc[2]) / 3, 1e-12);
    EXPECT_GT(m.baseline[s], 0.8);
  }
}

TEST(Compare, ShuffledLabelsStayNearChanceAndPValuesAreStatsOnTheSeeds) {
  const Table t = make_table(1200, 4, 3.0, 4, 2, /*shuffle_labels=*/true, 0, false);
  CompareOptions o;
  o.classifiers = {"logreg"};
  o.seeds = 4;
  o.test_share = 0.5;
  o.augment = random_over();
  o.method = "random-over";
  const auto r = run_comparison(t, nullptr, o, ctx_with(3));
  const auto& c = r.classifiers[0];
  // 600 test rows, 150 rare: the null sd of one AUC is ~0.024; 0.1 is > 4 sd.
  for (const auto* arm : {&c.metric("roc_auc").baseline, &c.metric("roc_auc").augmented})
    for (double v : *arm) EXPECT_NEAR(v, 0.5, 0.1);
  // Chance-level AP is the prevalence, 0.25.
  EXPECT_NEAR(c.metric("pr_auc").paired.baseline.mean, 0.25, 0.06);
  for (const auto& m : c.metrics) {
    SCOPED_TRACE(m.name);
    ASSERT_EQ(m.baseline.size(), 4u);
    const auto t_ref = stats::ttest_rel(m.augmented, m.baseline);
    const auto w_ref = stats::wilcoxon(m.augmented, m.baseline);
    const auto& p = m.paired;
    EXPECT_TRUE(p.t_test.p_value == t_ref.p_value ||
                (std::isnan(p.t_test.p_value) && std::isnan(t_ref.p_value)));
    EXPECT_TRUE(p.wilcoxon.p_value == w_ref.p_value ||
                (std::isnan(p.wilcoxon.p_value) && std::isnan(w_ref.p_value)));
    EXPECT_EQ(p.baseline.mean, stats::summarize(m.baseline).mean);
    // The per-seed values are the metrics of the full Scores.
    for (size_t s = 0; s < 4; ++s)
      for (const auto& [name, v] : c.baseline[s].items())
        if (name == m.name) {
          EXPECT_EQ(v, m.baseline[s]);
        }
  }
}

// A classifier that records the id column (column 0) of every matrix it is fitted on or asked to
// predict, and predicts the training class frequencies.
struct SpyLog {
  std::vector<std::vector<double>> fits, predicts;
};
SpyLog& spy_log() {
  static SpyLog log;
  return log;
}

class Spy : public Classifier {
 public:
  explicit Spy(std::string spec) : Classifier(std::move(spec)) {}
  void fit(const MatrixRM& X, const std::vector<int32_t>& y, int n_classes,
           const std::vector<double>*, const Context&) override {
    std::vector<double> ids(static_cast<size_t>(X.rows()));
    for (Eigen::Index i = 0; i < X.rows(); ++i) ids[static_cast<size_t>(i)] = X(i, 0);
    spy_log().fits.push_back(ids);
    prior_.assign(static_cast<size_t>(n_classes), 0.0);
    for (int32_t c : y) prior_[static_cast<size_t>(c)] += 1.0 / static_cast<double>(y.size());
    d_ = X.cols();
  }
  MatrixRM predict_proba(const MatrixRM& X) const override {
    std::vector<double> ids(static_cast<size_t>(X.rows()));
    for (Eigen::Index i = 0; i < X.rows(); ++i) ids[static_cast<size_t>(i)] = X(i, 0);
    spy_log().predicts.push_back(ids);
    MatrixRM p(X.rows(), static_cast<Eigen::Index>(prior_.size()));
    for (Eigen::Index i = 0; i < X.rows(); ++i)
      for (size_t k = 0; k < prior_.size(); ++k) p(i, static_cast<Eigen::Index>(k)) = prior_[k];
    return p;
  }
  void save(const std::string&) const override {}
  void load(const std::string&) override {}
  std::vector<double> feature_importances() const override {
    return std::vector<double>(static_cast<size_t>(d_), 0.0);
  }
  std::string importance_kind() const override { return "none"; }
  bool fitted() const override { return !prior_.empty(); }
  int n_classes() const override { return static_cast<int>(prior_.size()); }
  int64_t n_features() const override { return d_; }

 private:
  std::vector<double> prior_;
  int64_t d_ = 0;
};

void register_spy() {
  ClassifierInfo info;
  info.name = "spy";
  info.description = "records what it is fitted on (tests only)";
  info.create = [](const ParamValues&, const std::string& canonical) {
    return std::make_unique<Spy>(canonical);
  };
  register_classifier(info);
}

std::set<double> as_set(const std::vector<double>& v) { return {v.begin(), v.end()}; }

TEST(Compare, TestRowsNeverReachAugmentationOrTraining) {
  register_spy();
  const Table t = make_table(200, 2, 1.0, 4, 3);
  CompareOptions o;
  o.classifiers = {"spy"};
  o.seeds = 3;
  o.preprocess = "impute=none,scale=none";  // ids pass through unchanged
  std::vector<std::set<double>> augment_inputs;
  auto inner = random_over();
  o.augment = [&](const Table& train, const Context& c) {
    augment_inputs.push_back(as_set(train.column("id").num));
    return inner(train, c);
  };
  o.method = "random-over";
  spy_log() = {};
  const auto r = run_comparison(t, nullptr, o, ctx_with(0));
  ASSERT_EQ(augment_inputs.size(), 3u);
  ASSERT_EQ(spy_log().fits.size(), 6u);      // 3 seeds x 2 arms
  ASSERT_EQ(spy_log().predicts.size(), 6u);  // one prediction of the test rows each
  std::set<std::set<double>> test_sets;
  for (size_t s = 0; s < 3; ++s) {
    const auto& run = r.seeds[s];
    std::set<double> train_ids, test_ids;
    for (size_t i : run.train_rows) train_ids.insert(static_cast<double>(i));
    for (size_t i : run.test_rows) test_ids.insert(static_cast<double>(i));
    ASSERT_EQ(train_ids.size() + test_ids.size(), 200u);
    for (double id : test_ids) EXPECT_EQ(train_ids.count(id), 0u);
    test_sets.insert(test_ids);
    EXPECT_EQ(augment_inputs[s], train_ids);
    for (int arm = 0; arm < 2; ++arm) {
      const auto& fit = spy_log().fits[2 * s + static_cast<size_t>(arm)];
      for (double id : fit) EXPECT_EQ(test_ids.count(id), 0u) << "test row " << id << " in a fit";
      EXPECT_EQ(as_set(fit), train_ids);  // random-over copies training rows only
      EXPECT_EQ(fit.size(), static_cast<size_t>(arm == 0 ? run.n_train : run.n_augmented));
      EXPECT_EQ(as_set(spy_log().predicts[2 * s + static_cast<size_t>(arm)]), test_ids);
    }
  }
  EXPECT_EQ(test_sets.size(), 3u) << "each seed draws its own test split";

  // Frozen test table: test ids 10000+ never reach a fit; the test rows are the same each seed.
  const Table test = make_table(80, 2, 1.0, 4, 4, false, 10000);
  spy_log() = {};
  augment_inputs.clear();
  const auto r2 = run_comparison(t, &test, o, ctx_with(0));
  EXPECT_EQ(r2.mode, "test-file");
  for (const auto& fit : spy_log().fits)
    for (double id : fit) EXPECT_LT(id, 10000);
  for (const auto& ids : augment_inputs) EXPECT_EQ(ids.size(), 200u);
  for (const auto& p : spy_log().predicts) EXPECT_EQ(p.size(), 80u);
}

TEST(Compare, TstrTrainsOnSyntheticRowsOnly) {
  register_spy();
  const Table t = make_table(120, 2, 1.0, 3, 5);
  CompareOptions o;
  o.classifiers = {"spy"};
  o.seeds = 2;
  o.preprocess = "impute=none,scale=none";
  o.tstr = true;
  o.method = "copies";
  // Synthetic copies of every training row, ids shifted by 5000 so they can be told apart.
  o.augment = [](const Table& train, const Context&) {
    Table syn = train;
    for (double& v : syn.column(0).num) v += 5000;
    Provenance p = original_provenance(syn.n_rows());
    std::fill(p.synthetic.begin(), p.synthetic.end(), 1);
    syn.provenance() = p;
    return Table::concat(train, syn);
  };
  spy_log() = {};
  const auto r = run_comparison(t, nullptr, o, ctx_with(1));
  EXPECT_EQ(r.arm, "tstr");
  ASSERT_EQ(spy_log().fits.size(), 4u);
  for (size_t s = 0; s < 2; ++s) {
    for (double id : spy_log().fits[2 * s]) EXPECT_LT(id, 5000);      // baseline: real rows
    for (double id : spy_log().fits[2 * s + 1]) EXPECT_GE(id, 5000);  // TSTR: synthetic only
    EXPECT_EQ(r.seeds[s].n_augmented, r.seeds[s].n_synthetic);
    EXPECT_EQ(r.seeds[s].n_augmented, r.seeds[s].n_train);
  }
  // Synthetic rows of one class only: an InputError saying so.
  o.augment = [](const Table& train, const Context& c) {
    return classical::make_sampler("random-over")
        ->resample(train, classical::SamplingRequest{}, c)
        .table;
  };
  try {
    run_comparison(t, nullptr, o, ctx_with(1));
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("two classes"), std::string::npos) << e.what();
  }
}

TEST(Compare, BadInputIsAnInputError) {
  const Table t = make_table(60, 2, 1.0, 3, 6);
  CompareOptions o;
  o.classifiers = {"logreg"};
  o.seeds = 2;
  o.augment = random_over();
  auto expect_input_error = [&](const CompareOptions& opt, const Table* test, const char* needle) {
    try {
      run_comparison(t, test, opt, ctx_with(0));
      ADD_FAILURE() << "no InputError; expected one mentioning " << needle;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  CompareOptions bad = o;
  bad.classifiers = {"nope"};
  expect_input_error(bad, nullptr, "nope");
  bad = o;
  bad.seeds = 0;
  expect_input_error(bad, nullptr, "--seeds");
  bad = o;
  bad.primary_metric = "auc";
  expect_input_error(bad, nullptr, "--primary");
  bad = o;
  bad.augmented = &t;  // both a callback and a table
  expect_input_error(bad, nullptr, "exactly one");
  bad.augment = nullptr;  // a pre-augmented table without a frozen test table
  expect_input_error(bad, nullptr, "--test");
  // A test table with another class.
  Table other = make_table(30, 2, 1.0, 3, 7);
  other.column(other.target_index()).spec.categories = {"common", "unheard"};
  other.set_target("y");
  expect_input_error(o, &other, "unheard");
  // A test table without rows of a class.
  std::vector<size_t> common;
  for (size_t i = 0; i < t.n_rows(); ++i)
    if (t.labels()[i] == 0) common.push_back(i);
  const Table one_class = t.select(common);
  expect_input_error(o, &one_class, "no rows in the test table");
}

TEST(CompareOutputs, FilesParseAndStateThePrimaryMetric) {
  const Table t = make_table(200, 3, 2.0, 4, 8, false, 0, false);
  CompareOptions o;
  o.classifiers = {"xgboost:n_estimators=10", "logreg"};
  o.seeds = 3;
  o.augment = random_over();
  o.method = "random-over";
  o.importance_repeats = 2;
  o.top_k = 1;
  auto r = run_comparison(t, nullptr, o, ctx_with(0));
  r.inputs["train"] = "toy";
  // Permutation importance: x0 carries the signal, so it is the top-1 feature in most seeds.
  for (const auto& c : r.classifiers) {
    ASSERT_EQ(c.permutation_baseline.per_seed.size(), 3u);
    ASSERT_EQ(c.permutation_baseline.top_k_frequency.size(), 3u);
    EXPECT_GE(c.permutation_baseline.top_k_frequency[0], 2.0 / 3) << c.spec;
    EXPECT_EQ(c.model_importance_baseline.size(), 3u);
  }
  test::TempDir dir;
  for (const std::string ext : {".json", ".csv", ".h5"}) {
    const std::string path = dir.file("res" + ext);
    write_comparison(r, path);
    ASSERT_TRUE(std::filesystem::exists(path)) << ext;
    const std::string md = test::read_file(dir.file("res.md"));
    EXPECT_NE(md.find("PR-AUC (average precision) of class 'rare'"), std::string::npos) << md;
    if (ext == ".json") {
      const auto j = nlohmann::json::parse(test::read_file(path));
      EXPECT_EQ(j["format"], "rareforge.evaluation");
      EXPECT_EQ(j["primary_metric"], "pr_auc");
      EXPECT_EQ(j["classifiers"].size(), 2u);
      const auto& pr = j["classifiers"][1]["metrics"]["pr_auc"];
      EXPECT_EQ(pr["baseline"]["values"].size(), 3u);
      EXPECT_DOUBLE_EQ(pr["wilcoxon"]["p_value"].get<double>(),
                       r.classifiers[1].metric("pr_auc").paired.wilcoxon.p_value);
    } else if (ext == ".csv") {
      const std::string csv = test::read_file(path);
      EXPECT_EQ(csv.rfind("classifier,spec,metric,primary,description,", 0), 0u);
      // 2 classifiers x 11 metrics + header.
      EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 23);
      EXPECT_NE(csv.find(",pr_auc,1,PR-AUC (average precision) of class 'rare'"),
                std::string::npos);
    } else {
      auto f = h5::File::open(path);
      auto g = f.open_group("evaluation");
      EXPECT_EQ(g.attr_str("primary_metric"), "pr_auc");
      auto lr = g.open_group("classifiers").open_group("logreg");
      EXPECT_EQ(lr.open_group("baseline").open_dataset("pr_auc").read_f64(),
                r.classifiers[1].metric("pr_auc").baseline);
      EXPECT_EQ(lr.open_group("summary").open_dataset("metric").read_strings().size(), 11u);
    }
  }
  EXPECT_THROW(write_comparison(r, dir.file("res.txt")), InputError);
  EXPECT_EQ(markdown_path("/a/b.json"), "/a/b.md");
}

}  // namespace
}  // namespace rareforge::classifiers
