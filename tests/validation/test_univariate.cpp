// KS, Kolmogorov/Smirnov tails, Wasserstein-1 and chi-square against scipy 1.10.1
// (tests/fixtures/validation.json, made by tests/fixtures/make_validation_fixture.py).
#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "classifiers/metrics.h"
#include "core/error.h"
#include "validation/univariate.h"

namespace rareforge::validation {
namespace {

using nlohmann::json;

constexpr double kPRel = 1e-6;  // p-values: relative (the bound)
constexpr double kRel = 1e-9;   // statistics and distances

const json& fixture() {
  static const json doc = [] {
    std::ifstream in(std::string(RAREFORGE_SOURCE_DIR) + "/tests/fixtures/validation.json");
    if (!in) throw std::runtime_error("cannot open tests/fixtures/validation.json");
    return json::parse(in);
  }();
  return doc;
}

void expect_rel(double got, double want, double rel, const std::string& what) {
  // Below 1e-300 both are "zero" for every use (scipy clips some branches to exact 0).
  EXPECT_NEAR(got, want, rel * std::fabs(want) + 1e-300) << what;
}

TEST(Ks2Samp, MatchesScipy) {
  size_t n = 0;
  for (const json& c : fixture().at("ks")) {
    const auto a = c.at("a").get<std::vector<double>>();
    const auto b = c.at("b").get<std::vector<double>>();
    const KsResult r = ks_2samp(a, b);
    const std::string what = "n = " + std::to_string(a.size()) + ", " + std::to_string(b.size());
    expect_rel(r.statistic, c.at("statistic"), kRel, what + " statistic");
    expect_rel(r.p_value, c.at("p_value"), kPRel, what + " p-value");
    EXPECT_EQ(r.exact, std::max(a.size(), b.size()) <= 10000) << what;
    ++n;
  }
  EXPECT_GE(n, 10u);
}

TEST(Ks2Samp, HandComputed) {
  // Disjoint samples: D = 1; exact p = 2 / C(4, 2) = 1/3 for n = m = 2.
  const KsResult r = ks_2samp({1, 2}, {3, 4});
  EXPECT_DOUBLE_EQ(r.statistic, 1.0);
  EXPECT_NEAR(r.p_value, 1.0 / 3.0, 1e-15);
  // Identical samples: D = 0, p = 1.
  const KsResult s = ks_2samp({1, 2, 3}, {3, 2, 1});
  EXPECT_EQ(s.statistic, 0.0);
  EXPECT_EQ(s.p_value, 1.0);
  EXPECT_THROW(ks_2samp({}, {1.0}), InputError);
}

TEST(Kolmogorov, SfMatchesScipyOnEveryBranch) {
  for (const json& row : fixture().at("kstwo")) {
    const int64_t n = row[0];
    const double x = row[1], want = row[2];
    expect_rel(kolmogorov_sf(n, x), want, kPRel,
               "kstwo.sf(" + std::to_string(x) + ", " + std::to_string(n) + ")");
  }
}

TEST(Smirnov, MatchesScipy) {
  for (const json& row : fixture().at("smirnov")) {
    const int64_t n = row[0];
    const double x = row[1], want = row[2];
    expect_rel(smirnov_sf(n, x), want, kPRel,
               "smirnov(" + std::to_string(n) + ", " + std::to_string(x) + ")");
  }
}

TEST(Wasserstein, MatchesScipy) {
  for (const json& c : fixture().at("wasserstein")) {
    const auto a = c.at("a").get<std::vector<double>>();
    const auto b = c.at("b").get<std::vector<double>>();
    expect_rel(wasserstein_1d(a, b), c.at("distance"), kRel, "wasserstein");
  }
  // By hand: point masses at 0 and 3 -> 3; {0, 1} vs {0, 3} -> 1.
  EXPECT_DOUBLE_EQ(wasserstein_1d({0}, {3}), 3.0);
  EXPECT_DOUBLE_EQ(wasserstein_1d({0, 1}, {0, 3}), 1.0);
}

TEST(ChiSquare, ContingencyMatchesScipy) {
  for (const json& c : fixture().at("chi2")) {
    const auto t = c.at("table").get<std::vector<std::vector<double>>>();
    std::vector<double> flat;
    for (const auto& r : t) flat.insert(flat.end(), r.begin(), r.end());
    const Chi2Result r = chi2_contingency(flat, int(t.size()), int(t[0].size()));
    const std::string what = c.at("table").dump();
    EXPECT_EQ(r.dof, c.at("dof").get<int>()) << what;
    expect_rel(r.statistic, c.at("statistic"), kRel, what + " statistic");
    expect_rel(r.p_value, c.at("p_value"), kPRel, what + " p-value");
  }
}

TEST(ChiSquare, SfMatchesScipy) {
  for (const json& row : fixture().at("chi2_sf")) {
    const double x = row[0], d = row[1], want = row[2];
    expect_rel(chi2_sf(x, d), want, 1e-9,
               "chi2.sf(" + std::to_string(x) + ", " + std::to_string(d) + ")");
  }
}

TEST(DetectionAuc, MatchesSklearn) {
  // The detection score's AUC is classifiers/metrics.h roc_auc_binary on the out-of-fold scores.
  for (const json& c : fixture().at("auc")) {
    const auto y = c.at("y").get<std::vector<int32_t>>();
    const auto s = c.at("score").get<std::vector<double>>();
    expect_rel(metrics::roc_auc_binary(y, s), c.at("auc"), 1e-12, "auc");
  }
}

}  // namespace
}  // namespace rareforge::validation
