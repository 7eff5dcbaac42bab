// logreg and knn (classifiers/linear.h): agreement with scikit-learn fixtures
// (tests/fixtures/make_logreg_fixture.py, make_knn_fixture.py), determinism, save/load, and the
// properties of issue 7 (separable -> AUC 1, shuffled labels -> chance).
#include <cmath>
#include <fstream>
#include <random>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "classifiers/classifier.h"
#include "classifiers/linear.h"
#include "classifiers/mlp.h"
#include "classifiers/metrics.h"
#include "core/error.h"
#include "tests/test_util.h"

namespace rareforge::classifiers {
namespace {

nlohmann::json fixture(const std::string& name) {
  std::ifstream in(std::string(RAREFORGE_SOURCE_DIR) + "/tests/fixtures/classifiers/" + name);
  EXPECT_TRUE(in.good()) << name;
  return nlohmann::json::parse(in);
}

MatrixRM to_matrix(const nlohmann::json& rows) {
  MatrixRM m(static_cast<Eigen::Index>(rows.size()), static_cast<Eigen::Index>(rows[0].size()));
  for (size_t i = 0; i < rows.size(); ++i)
    for (size_t j = 0; j < rows[i].size(); ++j)
      m(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = rows[i][j].get<double>();
  return m;
}

// Gaussian data, class = [x . w + 0.3 + noise > 0], w = (1, -0.5, 1, -0.5, ...). With
// noise_scale 0 the classes are separable, and rows with |x . w + 0.3| < margin are redrawn.
void make_binary(int64_t n, int64_t d, double noise_scale, uint64_t seed, MatrixRM* X,
                 std::vector<int32_t>* y, double margin = 0.0) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> nd;
  X->resize(n, d);
  y->resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    double score = 0;
    do {
      score = 0.3;
      for (int64_t j = 0; j < d; ++j) {
        (*X)(i, j) = nd(gen);
        score += (*X)(i, j) * (j % 2 == 0 ? 1.0 : -0.5);
      }
    } while (std::abs(score) < margin);
    (*y)[static_cast<size_t>(i)] = score + noise_scale * nd(gen) > 0 ? 1 : 0;
  }
}

Context ctx_with(int threads) {
  Context c;
  c.threads = threads;
  c.seed = 1;
  return c;
}

class LogRegSolver : public ::testing::TestWithParam<const char*> {};

TEST_P(LogRegSolver, MatchesSklearnSaga) {
  const auto fx = fixture("logreg.json");
  int n_cases = 0;
  for (const auto& set : fx["sets"]) {
    const int K = set["n_classes"].get<int>();
    const MatrixRM X = to_matrix(set["X"]);
    const auto y = set["y"].get<std::vector<int32_t>>();
    for (const auto& c : set["cases"]) {
      LogRegParams p;
      p.alpha = c["alpha"].get<double>();
      p.l1_ratio = c["l1_ratio"].get<double>();
      p.class_weight = c["class_weight"].get<std::string>();
      p.tol = 1e-10;
      p.max_iter = 200000;
      p.solver = GetParam();
      LogisticRegression lr(p, "logreg");
      lr.fit(X, y, K, nullptr, ctx_with(2));
      SCOPED_TRACE(::testing::Message() << "K=" << K << " l1_ratio=" << p.l1_ratio
                                        << " C=" << c["C"] << " cw=" << p.class_weight);
      EXPECT_TRUE(lr.converged());
      const MatrixRM ref = to_matrix(c["coef"]);
      ASSERT_EQ(lr.coef().rows(), ref.rows());
      ASSERT_EQ(lr.coef().cols(), ref.cols());
      for (Eigen::Index k = 0; k < ref.rows(); ++k)
        for (Eigen::Index j = 0; j < ref.cols(); ++j) {
          EXPECT_NEAR(lr.coef()(k, j), ref(k, j), 1e-8) << "coef " << k << "," << j;
          if (ref(k, j) == 0.0) {
            EXPECT_EQ(lr.coef()(k, j), 0.0) << "L1 zero " << k << "," << j;
          }
        }
      const auto icpt = c["intercept"].get<std::vector<double>>();
      for (size_t k = 0; k < icpt.size(); ++k)
        EXPECT_NEAR(lr.intercept()(static_cast<Eigen::Index>(k)), icpt[k], 1e-8);
      const MatrixRM pref = to_matrix(c["proba"]);
      const MatrixRM pred = lr.predict_proba(X.topRows(pref.rows()));
      EXPECT_LT((pred - pref).cwiseAbs().maxCoeff(), 1e-9);
      ++n_cases;
    }
  }
  EXPECT_EQ(n_cases, 24);
}

INSTANTIATE_TEST_SUITE_P(Solvers, LogRegSolver, ::testing::Values("newton", "fista"));

TEST_P(LogRegSolver, SameResultForAnyThreadCount) {
  MatrixRM X;
  std::vector<int32_t> y;
  make_binary(7000, 6, 1.0, 3, &X, &y);  // several row blocks
  for (int K : {2, 3}) {
    std::vector<int32_t> yk = y;
    if (K == 3)
      for (size_t i = 0; i < yk.size(); ++i)
        if (X(static_cast<Eigen::Index>(i), 1) > 1.0) yk[i] = 2;
    const std::string spec = std::string("logreg:alpha=0.001,l1_ratio=0.5,solver=") + GetParam();
    auto a = make_classifier(spec);
    auto b = make_classifier(spec);
    a->fit(X, yk, K, nullptr, ctx_with(1));
    b->fit(X, yk, K, nullptr, ctx_with(3));
    EXPECT_EQ(a->predict_proba(X), b->predict_proba(X)) << "K=" << K;
  }
}

TEST(LogReg, SaveLoadExact) {
  MatrixRM X;
  std::vector<int32_t> y;
  make_binary(7000, 6, 1.0, 3, &X, &y);  // several row blocks
  auto a = make_classifier("logreg:alpha=0.001,l1_ratio=0.5");
  auto b = make_classifier("logreg:alpha=0.001,l1_ratio=0.5");
  a->fit(X, y, 2, nullptr, ctx_with(1));
  b->fit(X, y, 2, nullptr, ctx_with(3));
  const MatrixRM pa = a->predict_proba(X);
  EXPECT_EQ(pa, b->predict_proba(X));

  test::TempDir dir;
  a->save(dir.file("lr.json"));
  auto c = load_classifier("logreg", dir.file("lr.json"));
  EXPECT_EQ(pa, c->predict_proba(X));
  EXPECT_EQ(a->feature_importances(), c->feature_importances());
}

TEST(LogReg, SignedCoefficientsAndImportances) {
  MatrixRM X;
  std::vector<int32_t> y;
  make_binary(2000, 4, 0.5, 5, &X, &y);
  LogisticRegression lr(LogRegParams{}, "logreg");
  lr.fit(X, y, 2, nullptr, ctx_with(2));
  const Eigen::VectorXd w = lr.positive_coef();
  EXPECT_GT(w(0), 0);  // feature 0 pushes towards class 1
  EXPECT_LT(w(1), 0);  // feature 1 away from it
  EXPECT_GT(w(2), 0);
  EXPECT_LT(w(3), 0);
  const auto imp = lr.feature_importances();
  ASSERT_EQ(imp.size(), 4u);
  for (int j = 0; j < 4; ++j) EXPECT_DOUBLE_EQ(imp[static_cast<size_t>(j)], std::abs(w(j)));
  EXPECT_GT(imp[0], imp[1]);  // true weights 1 and -0.5
}

TEST(LogReg, MultinomialImportancesAverageOverClasses) {
  const auto fx = fixture("logreg.json");
  const auto& set = fx["sets"][1];
  LogisticRegression lr(LogRegParams{}, "logreg");
  lr.fit(to_matrix(set["X"]), set["y"].get<std::vector<int32_t>>(), 3, nullptr, ctx_with(1));
  ASSERT_EQ(lr.coef().rows(), 3);
  const auto imp = lr.feature_importances();
  for (Eigen::Index j = 0; j < lr.coef().cols(); ++j)
    EXPECT_NEAR(imp[static_cast<size_t>(j)], lr.coef().col(j).cwiseAbs().mean(), 1e-15);
  EXPECT_THROW(lr.positive_coef(), InputError);
}

TEST(LogReg, SampleWeightsEqualRepeatedRows) {
  // Integer weights: the same objective as the rows repeated (and 1/n scaled consistently).
  MatrixRM X;
  std::vector<int32_t> y;
  make_binary(300, 3, 1.0, 9, &X, &y);
  std::vector<double> w(300);
  std::vector<int64_t> idx;
  for (size_t i = 0; i < 300; ++i) {
    w[i] = static_cast<double>(1 + i % 3);
    for (int r = 0; r < static_cast<int>(w[i]); ++r) idx.push_back(static_cast<int64_t>(i));
  }
  MatrixRM Xr(static_cast<Eigen::Index>(idx.size()), 3);
  std::vector<int32_t> yr;
  for (size_t r = 0; r < idx.size(); ++r) {
    Xr.row(static_cast<Eigen::Index>(r)) = X.row(idx[r]);
    yr.push_back(y[static_cast<size_t>(idx[r])]);
  }
  LogRegParams p;
  p.tol = 1e-10;
  p.max_iter = 100000;
  p.alpha = 0.01;
  LogisticRegression a(p, "logreg");
  a.fit(X, y, 2, &w, ctx_with(1));
  // The weighted mean divides by n = 300, the repeated one by 600: scale alpha to match.
  p.alpha = 0.01 * 300.0 / static_cast<double>(idx.size());
  LogisticRegression b(p, "logreg");
  b.fit(Xr, yr, 2, nullptr, ctx_with(1));
  EXPECT_LT((a.coef() - b.coef()).cwiseAbs().maxCoeff(), 1e-7);
}

TEST(LogReg, SeparableReachesAucOneAndShuffledStaysNearChance) {
  MatrixRM X, Xt;
  std::vector<int32_t> y, yt;
  make_binary(1000, 5, 0.0, 11, &X, &y, 0.5);
  make_binary(1000, 5, 0.0, 12, &Xt, &yt, 0.5);
  for (const char* spec : {"logreg", "knn:k=5", "knn:k=7,weights=distance"}) {
    auto clf = make_classifier(spec);
    clf->fit(X, y, 2, nullptr, ctx_with(2));
    const double auc = metrics::roc_auc(yt, clf->predict_proba(Xt));
    if (std::string(spec) == "logreg") {
      EXPECT_EQ(auc, 1.0) << spec;
    } else {
      EXPECT_GT(auc, 0.99) << spec;  // kNN on an oblique boundary in 5-D: near, not exactly 1
    }
  }
  // A linearly separable set that kNN also separates exactly: two far-apart clusters.
  MatrixRM C(200, 2);
  std::vector<int32_t> yc(200);
  std::mt19937_64 gen(4);
  std::normal_distribution<double> nd;
  for (int i = 0; i < 200; ++i) {
    yc[static_cast<size_t>(i)] = i % 2;
    C(i, 0) = nd(gen) + (i % 2 ? 10 : -10);
    C(i, 1) = nd(gen);
  }
  auto knn = make_classifier("knn");
  knn->fit(C.topRows(100), std::vector<int32_t>(yc.begin(), yc.begin() + 100), 2, nullptr,
           ctx_with(1));
  EXPECT_EQ(metrics::roc_auc(std::vector<int32_t>(yc.begin() + 100, yc.end()),
                             knn->predict_proba(C.bottomRows(100))),
            1.0);

  // Labels shuffled in train and test: nothing to learn, the test AUC is chance (sd ~0.018
  // for 1000 rows; the bound is ~4 sd).
  std::vector<int32_t> shuffled = y, shuffled_t = yt;
  std::mt19937_64 g2(99);
  std::shuffle(shuffled.begin(), shuffled.end(), g2);
  std::shuffle(shuffled_t.begin(), shuffled_t.end(), g2);
  for (const char* spec : {"logreg", "knn:k=15"}) {
    auto clf = make_classifier(spec);
    clf->fit(X, shuffled, 2, nullptr, ctx_with(2));
    const double auc = metrics::roc_auc(shuffled_t, clf->predict_proba(Xt));
    EXPECT_NEAR(auc, 0.5, 0.07) << spec;
  }
}

TEST(LogReg, ClassesWithoutRowsGetProbabilityNearZero) {
  MatrixRM X;
  std::vector<int32_t> y;
  make_binary(400, 3, 1.0, 41, &X, &y);
  for (const char* solver : {"newton", "fista"}) {
    LogRegParams p;
    p.solver = solver;
    LogisticRegression lr(p, "logreg");
    lr.fit(X, y, 3, nullptr, ctx_with(1));  // class 2 has no rows
    EXPECT_TRUE(lr.converged()) << solver;
    const MatrixRM P = lr.predict_proba(X);
    EXPECT_LT(P.col(2).maxCoeff(), 1e-10) << solver;
    EXPECT_GT(metrics::roc_auc_binary(y, metrics::column(P, 1)), 0.8) << solver;
  }
  LogisticRegression one(LogRegParams{}, "logreg");
  one.fit(X, std::vector<int32_t>(400, 1), 2, nullptr, ctx_with(1));
  EXPECT_GT(one.predict_proba(X).col(1).minCoeff(), 1.0 - 1e-10);
}

TEST(LogReg, RejectsBadInput) {
  MatrixRM X(3, 2);
  X << 0, 1, 1, std::nan(""), 2, 3;
  LogisticRegression lr(LogRegParams{}, "logreg");
  EXPECT_THROW(lr.fit(X, {0, 1, 0}, 2, nullptr, ctx_with(1)), InputError);
  EXPECT_THROW(lr.predict_proba(X), Error);  // before fit
  EXPECT_THROW(make_classifier("logreg:l1_ratio=2"), InputError);
  EXPECT_THROW(make_classifier("logreg:class_weight=auto"), InputError);
  EXPECT_THROW(make_classifier("knn:k=0"), InputError);
  auto knn = make_classifier("knn:k=4");
  MatrixRM X3(3, 1);
  X3 << 0, 1, 2;
  EXPECT_THROW(knn->fit(X3, {0, 1, 0}, 2, nullptr, ctx_with(1)), InputError);  // k > n
}

TEST(Knn, MatchesSklearn) {
  const auto fx = fixture("knn.json");
  const MatrixRM X = to_matrix(fx["X"]);
  const MatrixRM Xt = to_matrix(fx["X_test"]);
  const auto y = fx["y"].get<std::vector<int32_t>>();
  const int K = fx["n_classes"].get<int>();
  for (const auto& c : fx["cases"]) {
    KnnParams p;
    p.k = c["k"].get<int64_t>();
    p.weights = c["weights"].get<std::string>();
    KnnClassifier knn(p, "knn");
    knn.fit(X, y, K, nullptr, ctx_with(2));
    const MatrixRM ref = to_matrix(c["proba"]);
    const MatrixRM got = knn.predict_proba(Xt);
    SCOPED_TRACE(::testing::Message() << "k=" << p.k << " weights=" << p.weights);
    EXPECT_LT((got - ref).cwiseAbs().maxCoeff(), 1e-12);
  }
}

TEST(Knn, SaveLoadAndWeights) {
  MatrixRM X;
  std::vector<int32_t> y;
  make_binary(500, 3, 1.0, 21, &X, &y);
  std::vector<double> w(500, 1.0);
  auto a = make_classifier("knn:k=6,weights=distance");
  auto b = make_classifier("knn:k=6,weights=distance");
  a->fit(X, y, 2, nullptr, ctx_with(1));
  b->fit(X, y, 2, &w, ctx_with(3));
  const MatrixRM pa = a->predict_proba(X.topRows(50));
  EXPECT_EQ(pa, b->predict_proba(X.topRows(50)));  // unit weights change nothing
  // Every row is its own neighbour at distance 0: it takes all the weight.
  for (Eigen::Index i = 0; i < 50; ++i) EXPECT_EQ(pa(i, y[static_cast<size_t>(i)]), 1.0);
  test::TempDir dir;
  b->save(dir.file("knn.json"));
  auto c = load_classifier("knn", dir.file("knn.json"));
  EXPECT_EQ(pa, c->predict_proba(X.topRows(50)));
  EXPECT_EQ(c->feature_importances(), std::vector<double>(3, 0.0));
}

}  // namespace
}  // namespace rareforge::classifiers

namespace rareforge::classifiers {
namespace {

TEST(Mlp, LearnsSeparableDataAndIsDeterministic) {
  register_mlp();
  MatrixRM X, Xt;
  std::vector<int32_t> y, yt;
  make_binary(800, 4, 0.0, 31, &X, &y, 0.5);
  make_binary(400, 4, 0.0, 32, &Xt, &yt, 0.5);
  auto a = make_classifier("mlp:hidden=16,epochs=40");
  auto b = make_classifier("mlp:hidden=16,epochs=40");
  a->fit(X, y, 2, nullptr, ctx_with(1));
  b->fit(X, y, 2, nullptr, ctx_with(1));
  const MatrixRM p = a->predict_proba(Xt);
  EXPECT_EQ(p, b->predict_proba(Xt));
  EXPECT_GT(metrics::roc_auc(yt, p), 0.99);
  EXPECT_THROW(make_classifier("mlp:hidden=16-x"), InputError);
}

}  // namespace
}  // namespace rareforge::classifiers
