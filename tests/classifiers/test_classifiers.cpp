// Classifiers: the registry (every entry fits, predicts and round-trips on a tiny table), the
// XGBoost wrapper against Debian's python3-xgboost 1.7.4 (tests/fixtures/xgboost/, made by
// tests/fixtures/make_xgboost_fixture.py), and properties every classifier must have: AUC 1 on a
// separable problem, chance level on shuffled labels, determinism by seed.
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "classifiers/classifier.h"
#include "classifiers/metrics.h"
#include "classifiers/xgboost.h"
#include "core/error.h"
#include "core/rng.h"
#include "tests/test_util.h"

namespace rareforge::classifiers {
namespace {

using nlohmann::json;

// One thread by default: on an oversubscribed CI machine every OpenMP barrier inside XGBoost can
// wait a scheduler time slice for a descheduled worker, which made a 10-round fit with two
// threads take 10+ s. DeterministicBySeed uses two threads on a deliberately small model.
Context ctx_with(uint64_t seed, int threads = 1) {
  Context c;
  c.seed = seed;
  c.threads = threads;
  c.quiet = true;
  return c;
}

struct Data {
  MatrixRM X;
  std::vector<int32_t> y;
  std::vector<double> w;
};

// Gaussian classes whose means differ in the first `informative` columns by `shift`.
Data blobs(size_t n, int d, int k, double shift, int informative, uint64_t seed) {
  Rng rng(seed);
  Data out;
  out.X.resize(static_cast<Eigen::Index>(n), d);
  out.y.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const int32_t c = static_cast<int32_t>(i % static_cast<size_t>(k));
    out.y[i] = c;
    for (int j = 0; j < d; ++j)
      out.X(static_cast<Eigen::Index>(i), j) = rng.normal() + (j < informative ? shift * c : 0.0);
  }
  return out;
}

// Read a fixture CSV: feature columns f*, optional `weight`, `label` last; empty cell = NaN.
Data read_csv(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::string line;
  std::getline(in, line);
  std::vector<std::string> header;
  {
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) header.push_back(cell);
  }
  const bool weighted = header.size() >= 2 && header[header.size() - 2] == "weight";
  const size_t d = header.size() - 1 - (weighted ? 1 : 0);
  std::vector<std::vector<double>> rows;
  Data out;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::vector<std::string> cells;
    size_t start = 0;
    for (;;) {
      const size_t comma = line.find(',', start);
      cells.push_back(line.substr(start, comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    EXPECT_EQ(cells.size(), header.size());
    std::vector<double> r(d);
    for (size_t j = 0; j < d; ++j)
      r[j] = cells[j].empty() ? std::nan("") : std::strtod(cells[j].c_str(), nullptr);
    rows.push_back(r);
    if (weighted) out.w.push_back(std::strtod(cells[d].c_str(), nullptr));
    out.y.push_back(std::stoi(cells.back()));
  }
  out.X.resize(static_cast<Eigen::Index>(rows.size()), static_cast<Eigen::Index>(d));
  for (size_t i = 0; i < rows.size(); ++i)
    for (size_t j = 0; j < d; ++j)
      out.X(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = rows[i][j];
  return out;
}

std::string fixture_dir() { return std::string(RAREFORGE_SOURCE_DIR) + "/tests/fixtures/xgboost"; }

double max_abs_diff(const MatrixRM& a, const MatrixRM& b) {
  EXPECT_EQ(a.rows(), b.rows());
  EXPECT_EQ(a.cols(), b.cols());
  if (a.rows() != b.rows() || a.cols() != b.cols()) return 1e300;
  return (a - b).cwiseAbs().maxCoeff();
}

void expect_valid_proba(const MatrixRM& p, Eigen::Index n, int k, const std::string& who) {
  ASSERT_EQ(p.rows(), n) << who;
  ASSERT_EQ(p.cols(), k) << who;
  for (Eigen::Index i = 0; i < n; ++i) {
    double s = 0;
    for (int c = 0; c < k; ++c) {
      EXPECT_GE(p(i, c), 0.0) << who;
      EXPECT_LE(p(i, c), 1.0) << who;
      s += p(i, c);
    }
    EXPECT_NEAR(s, 1.0, 1e-5) << who << " row " << i;
  }
}

// --- registry ---------------------------------------------------------------------------------

TEST(ClassifierRegistry, HasTheXGBoostEntriesAndUniqueNames) {
  std::set<std::string> names;
  for (const auto& info : classifier_registry()) {
    EXPECT_TRUE(names.insert(info.name).second) << "duplicate " << info.name;
    EXPECT_FALSE(info.description.empty()) << info.name;
    EXPECT_TRUE(static_cast<bool>(info.create)) << info.name;
  }
  EXPECT_TRUE(names.count("xgboost"));
  EXPECT_TRUE(names.count("random-forest"));
  EXPECT_EQ(find_classifier("no-such"), nullptr);
}

TEST(ClassifierRegistry, EveryClassifierFitsPredictsAndRoundTripsWithDefaults) {
  test::TempDir dir;
  for (int k : {2, 3}) {
    const Data tr = blobs(60, 3, k, 2.0, 2, 11);
    const Data te = blobs(21, 3, k, 2.0, 2, 12);
    for (const auto& info : classifier_registry()) {
      SCOPED_TRACE(info.name + " k=" + std::to_string(k));
      auto clf = make_classifier(info.name);
      EXPECT_FALSE(clf->fitted());
      EXPECT_EQ(clf->spec().rfind(info.name, 0), 0u);
      clf->fit(tr.X, tr.y, k, nullptr, ctx_with(1));
      ASSERT_TRUE(clf->fitted());
      EXPECT_EQ(clf->n_classes(), k);
      EXPECT_EQ(clf->n_features(), 3);
      const MatrixRM p = clf->predict_proba(te.X);
      expect_valid_proba(p, te.X.rows(), k, info.name);
      const auto imp = clf->feature_importances();
      ASSERT_EQ(imp.size(), 3u);
      for (double v : imp) EXPECT_GE(v, 0.0);
      EXPECT_FALSE(clf->importance_kind().empty());

      const std::string path = dir.file(info.name + std::to_string(k) + ".model");
      clf->save(path);
      auto back = load_classifier(info.name, path);
      EXPECT_EQ(back->n_classes(), k);
      EXPECT_EQ(back->n_features(), 3);
      EXPECT_EQ(max_abs_diff(back->predict_proba(te.X), p), 0.0);
    }
  }
}

TEST(ClassifierRegistry, UnknownNamesAndKeysListTheValidOnes) {
  try {
    make_classifier("no-such-model");
    FAIL() << "no InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("xgboost"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("random-forest"), std::string::npos) << e.what();
  }
  try {
    make_classifier("xgboost:depth=3");
    FAIL() << "no InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("max_depth"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make_classifier("xgboost:max_depth=0"), InputError);
  EXPECT_THROW(make_classifier("xgboost:tree_method=magic"), InputError);
  // random-forest is one round: early stopping is not one of its keys.
  EXPECT_THROW(make_classifier("random-forest:early_stopping_rounds=5"), InputError);
  // XGBRFClassifier's defaults.
  const std::string rf = make_classifier("random-forest")->spec();
  EXPECT_NE(rf.find("learning_rate=1,"), std::string::npos) << rf;
  EXPECT_NE(rf.find("subsample=0.8,"), std::string::npos) << rf;
}

// --- properties (XGBoost entries) --------------------------------------------------------------

class XGBoostEntries : public ::testing::TestWithParam<std::string> {};

TEST_P(XGBoostEntries, SeparableProblemReachesAucOne) {
  // Class decided by the sign of x0 with a gap of 1 around 0; x1, x2 are noise.
  Rng rng(5);
  auto make = [&](size_t n) {
    Data d;
    d.X.resize(static_cast<Eigen::Index>(n), 3);
    for (size_t i = 0; i < n; ++i) {
      const int32_t c = static_cast<int32_t>(rng.uniform_int(2));
      d.y.push_back(c);
      const auto r = static_cast<Eigen::Index>(i);
      d.X(r, 0) = (c ? 0.5 : -0.5) + (c ? 1 : -1) * rng.uniform(0, 2);
      d.X(r, 1) = rng.normal();
      d.X(r, 2) = rng.normal();
    }
    return d;
  };
  const Data tr = make(300), te = make(300);
  auto clf = make_classifier(GetParam());
  clf->fit(tr.X, tr.y, 2, nullptr, ctx_with(3));
  const MatrixRM p = clf->predict_proba(te.X);
  EXPECT_DOUBLE_EQ(metrics::roc_auc(te.y, p), 1.0);
  // The only informative column carries the importance.
  const auto imp = clf->feature_importances();
  EXPECT_GT(imp[0], imp[1]);
  EXPECT_GT(imp[0], imp[2]);
  double sum = 0;
  for (double v : imp) sum += v;
  EXPECT_NEAR(sum, 1.0, 1e-6);
}

TEST_P(XGBoostEntries, ShuffledLabelsStayNearChance) {
  // Labels independent of the features: with 1000 balanced test rows the AUC's standard
  // deviation under the null is sqrt((n0 + n1 + 1) / (12 n0 n1)) ~= 0.018; the band is
  // +-0.06 (> 3 sd). The seed is fixed, so the test is deterministic.
  Data tr = blobs(2000, 5, 2, 0.0, 0, 21), te = blobs(1000, 5, 2, 0.0, 0, 22);
  Rng rng(23);
  rng.shuffle(tr.y);
  auto clf = make_classifier(GetParam());
  clf->fit(tr.X, tr.y, 2, nullptr, ctx_with(4));
  const double auc = metrics::roc_auc(te.y, clf->predict_proba(te.X));
  EXPECT_NEAR(auc, 0.5, 0.06);
}

TEST_P(XGBoostEntries, DeterministicBySeed) {
  const Data tr = blobs(200, 4, 3, 0.7, 2, 31), te = blobs(100, 4, 3, 0.7, 2, 32);
  const std::string spec =
      GetParam() + ":n_estimators=5,max_depth=3,subsample=0.7,colsample_bynode=0.6";
  auto a = make_classifier(spec), b = make_classifier(spec), c = make_classifier(spec);
  a->fit(tr.X, tr.y, 3, nullptr, ctx_with(9, 2));
  b->fit(tr.X, tr.y, 3, nullptr, ctx_with(9, 2));
  c->fit(tr.X, tr.y, 3, nullptr, ctx_with(10, 2));
  const MatrixRM pa = a->predict_proba(te.X);
  EXPECT_EQ(max_abs_diff(pa, b->predict_proba(te.X)), 0.0);
  EXPECT_GT(max_abs_diff(pa, c->predict_proba(te.X)), 0.0);  // the seed reaches XGBoost
}

INSTANTIATE_TEST_SUITE_P(Classifiers, XGBoostEntries, ::testing::Values("xgboost", "random-forest"),
                         [](const auto& info) {
                           return info.param == "xgboost" ? std::string("xgboost")
                                                          : std::string("random_forest");
                         });

// --- parity with Python's xgboost ---------------------------------------------------------------

TEST(XGBoostWrapper, MatchesPythonXGBoostOnTheFixture) {
  std::ifstream in(fixture_dir() + "/expected.json");
  ASSERT_TRUE(in.good()) << "missing tests/fixtures/xgboost/expected.json";
  const json fx = json::parse(in);
  EXPECT_EQ(fx.at("xgboost_version").get<std::string>(), xgboost_version());
  ASSERT_GE(fx.at("cases").size(), 5u);
  for (const json& c : fx.at("cases")) {
    const std::string name = c.at("name");
    SCOPED_TRACE(name);
    const std::string ds = c.at("data");
    const Data tr = read_csv(fixture_dir() + "/" + ds + "_train.csv");
    const Data te = read_csv(fixture_dir() + "/" + ds + "_test.csv");
    const int k = c.at("n_classes");
    auto clf = make_classifier(c.at("spec").get<std::string>());
    const bool weighted = c.at("weighted");
    clf->fit(tr.X, tr.y, k, weighted ? &tr.w : nullptr, ctx_with(0, /*threads=*/1));
    const MatrixRM p = clf->predict_proba(te.X);
    const json& expect = c.at("proba");
    ASSERT_EQ(static_cast<Eigen::Index>(expect.size()), p.rows());
    MatrixRM e(p.rows(), p.cols());
    for (Eigen::Index i = 0; i < p.rows(); ++i)
      for (Eigen::Index j = 0; j < p.cols(); ++j) e(i, j) = expect[i][j].get<double>();
    // XGBoost computes in float32; the same library on the same data agrees to rounding.
    // (With Debian's 1.7.4 on both sides they agree bit for bit today.)
    EXPECT_LE(max_abs_diff(p, e), 1e-6);
  }
}

TEST(XGBoostWrapper, LoadsAModelSavedByPython) {
  std::ifstream in(fixture_dir() + "/expected.json");
  const json fx = json::parse(in);
  const Data te = read_csv(fixture_dir() + "/multi_test.csv");
  for (const json& c : fx.at("cases")) {
    if (c.at("name") != "multi_forest") continue;
    auto clf = load_classifier("random-forest", fixture_dir() + "/py_multi_forest.json");
    EXPECT_EQ(clf->n_classes(), 3);
    EXPECT_EQ(clf->n_features(), 6);
    const MatrixRM p = clf->predict_proba(te.X);
    const json& expect = c.at("proba");
    double worst = 0;
    for (Eigen::Index i = 0; i < p.rows(); ++i)
      for (Eigen::Index j = 0; j < p.cols(); ++j)
        worst = std::max(worst, std::abs(p(i, j) - expect[i][j].get<double>()));
    EXPECT_LE(worst, 1e-6);
    return;
  }
  FAIL() << "fixture has no multi_forest case";
}

// --- the XGBoost wrapper's own behaviour ------------------------------------------------------

TEST(XGBoostWrapper, EarlyStoppingKeepsTheBestRoundsOnly) {
  test::TempDir dir;
  // Weak signal: the validation loss turns up long before 300 rounds at eta 0.3.
  const Data tr = blobs(600, 6, 2, 0.4, 2, 41), te = blobs(200, 6, 2, 0.4, 2, 42);
  auto clf = make_classifier("xgboost:n_estimators=300,early_stopping_rounds=10,val_share=0.2");
  clf->fit(tr.X, tr.y, 2, nullptr, ctx_with(7));
  const std::string path = dir.file("es.json");
  clf->save(path);
  std::ifstream in(path);
  const json model = json::parse(in);
  const int best =
      std::stoi(model.at("learner").at("attributes").at("best_iteration").get<std::string>());
  const int trees = std::stoi(model.at("learner")
                                  .at("gradient_booster")
                                  .at("model")
                                  .at("gbtree_model_param")
                                  .at("num_trees")
                                  .get<std::string>());
  EXPECT_LT(best, 290);  // it did stop early
  EXPECT_EQ(trees, best + 1);
  // Same seed: same split, same stopping point, same model.
  auto again = make_classifier("xgboost:n_estimators=300,early_stopping_rounds=10,val_share=0.2");
  again->fit(tr.X, tr.y, 2, nullptr, ctx_with(7));
  EXPECT_EQ(max_abs_diff(clf->predict_proba(te.X), again->predict_proba(te.X)), 0.0);
  EXPECT_EQ(
      max_abs_diff(clf->predict_proba(te.X), load_classifier("xgboost", path)->predict_proba(te.X)),
      0.0);
}

TEST(XGBoostWrapper, IntegerWeightsEqualDuplicatedRows) {
  // With exact split finding, weight 2 on a row is the row twice (same gradient sums).
  const Data tr = blobs(120, 3, 2, 1.0, 2, 51), te = blobs(50, 3, 2, 1.0, 2, 52);
  std::vector<double> w(tr.y.size(), 1.0);
  std::vector<size_t> dup;
  for (size_t i = 0; i < tr.y.size(); i += 3) {
    w[i] = 2.0;
    dup.push_back(i);
  }
  Data big;
  big.X.resize(tr.X.rows() + static_cast<Eigen::Index>(dup.size()), tr.X.cols());
  big.X.topRows(tr.X.rows()) = tr.X;
  big.y = tr.y;
  for (size_t r = 0; r < dup.size(); ++r) {
    big.X.row(tr.X.rows() + static_cast<Eigen::Index>(r)) =
        tr.X.row(static_cast<Eigen::Index>(dup[r]));
    big.y.push_back(tr.y[dup[r]]);
  }
  const std::string spec = "xgboost:tree_method=exact,n_estimators=20";
  auto a = make_classifier(spec), b = make_classifier(spec), c = make_classifier(spec);
  a->fit(tr.X, tr.y, 2, &w, ctx_with(1, 1));
  b->fit(big.X, big.y, 2, nullptr, ctx_with(1, 1));
  c->fit(tr.X, tr.y, 2, nullptr, ctx_with(1, 1));
  EXPECT_LE(max_abs_diff(a->predict_proba(te.X), b->predict_proba(te.X)), 1e-5);
  EXPECT_GT(max_abs_diff(a->predict_proba(te.X), c->predict_proba(te.X)), 1e-4);
}

TEST(XGBoostWrapper, MissingValuesAreAllowedAndUnusedColumnsGetZeroImportance) {
  Data tr = blobs(300, 4, 2, 1.5, 1, 61);
  for (Eigen::Index i = 0; i < tr.X.rows(); i += 7) tr.X(i, 0) = std::nan("");
  tr.X.col(3).setConstant(2.5);  // a constant column is never split on
  auto clf = make_classifier("xgboost:n_estimators=20");
  clf->fit(tr.X, tr.y, 2, nullptr, ctx_with(2));
  expect_valid_proba(clf->predict_proba(tr.X), tr.X.rows(), 2, "xgboost");
  const auto imp = clf->feature_importances();
  EXPECT_EQ(imp[3], 0.0);
  EXPECT_GT(imp[0], 0.0);
}

TEST(XGBoostWrapper, BadInputIsAnInputErrorAndUseBeforeFitAnError) {
  const Data tr = blobs(40, 3, 2, 1.0, 2, 71);
  auto clf = make_classifier("xgboost:n_estimators=5");
  EXPECT_THROW(clf->predict_proba(tr.X), Error);
  EXPECT_THROW(clf->save("/nonexistent/x.json"), Error);
  EXPECT_THROW(clf->feature_importances(), Error);
  std::vector<int32_t> bad = tr.y;
  bad[3] = 2;
  EXPECT_THROW(clf->fit(tr.X, bad, 2, nullptr, ctx_with(1)), InputError);
  std::vector<int32_t> short_y(tr.y.begin(), tr.y.end() - 1);
  EXPECT_THROW(clf->fit(tr.X, short_y, 2, nullptr, ctx_with(1)), InputError);
  std::vector<double> negative(tr.y.size(), 1.0);
  negative[0] = -1;
  EXPECT_THROW(clf->fit(tr.X, tr.y, 2, &negative, ctx_with(1)), InputError);
  MatrixRM inf = tr.X;
  inf(0, 0) = 1e300;  // beyond float32
  EXPECT_THROW(clf->fit(inf, tr.y, 2, nullptr, ctx_with(1)), InputError);
  // Early stopping needs a row of each class on both sides of its validation split.
  std::vector<int32_t> one_positive(tr.y.size(), 0);
  one_positive[5] = 1;
  auto es = make_classifier("xgboost:n_estimators=5,early_stopping_rounds=2");
  EXPECT_THROW(es->fit(tr.X, one_positive, 2, nullptr, ctx_with(1)), InputError);
  clf->fit(tr.X, tr.y, 2, nullptr, ctx_with(1));
  EXPECT_THROW(clf->predict_proba(MatrixRM::Zero(2, 4)), InputError);
  EXPECT_THROW(load_classifier("xgboost", "/nonexistent/model.json"), InputError);
  test::TempDir dir;
  test::write_file(dir.file("junk.json"), "not a model");
  EXPECT_THROW(load_classifier("xgboost", dir.file("junk.json")), InputError);
}

TEST(XGBoostWrapper, CudaOnACpuOnlyLibraryIsAClearError) {
  if (xgboost_has_cuda()) GTEST_SKIP() << "libxgboost was built with CUDA";
  const Data tr = blobs(40, 3, 2, 1.0, 2, 81);
  Context ctx = ctx_with(1);
  ctx.device = Device::parse("cuda:0");
  auto clf = make_classifier("xgboost:n_estimators=5");
  try {
    clf->fit(tr.X, tr.y, 2, nullptr, ctx);
    FAIL() << "no Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("without CUDA"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(clf->fitted());
}

}  // namespace
}  // namespace rareforge::classifiers
