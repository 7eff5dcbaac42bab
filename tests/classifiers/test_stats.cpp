// Paired tests and the t distribution against scipy 1.10.1 (tests/fixtures/stats.json, made by
// tests/fixtures/make_stats_fixture.py) and against hand-computed cases.
#include <cmath>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "classifiers/stats.h"
#include "core/error.h"

namespace rareforge::stats {
namespace {

using nlohmann::json;

constexpr double kRel = 1e-9;
/// Special functions: relative tolerance, with an absolute floor for values near 0.
constexpr double kSpecialRel = 1e-12;

double num(const json& j) {
  if (j.is_string()) {
    const std::string s = j.get<std::string>();
    if (s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-inf") return -std::numeric_limits<double>::infinity();
    return std::numeric_limits<double>::quiet_NaN();
  }
  return j.get<double>();
}

void expect_rel(double got, double want, double rel, const std::string& what) {
  if (std::isinf(want) || std::isnan(want)) {
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got)) << what << ": got " << got;
    } else {
      EXPECT_EQ(got, want) << what;
    }
    return;
  }
  EXPECT_NEAR(got, want, rel * std::fabs(want) + 1e-300) << what;
}

const json& fixture() {
  static const json doc = [] {
    std::ifstream in(std::string(RAREFORGE_SOURCE_DIR) + "/tests/fixtures/stats.json");
    if (!in) throw std::runtime_error("cannot open tests/fixtures/stats.json");
    return json::parse(in);
  }();
  return doc;
}

TEST(StatsFixture, IncompleteBetaMatchesScipy) {
  size_t n = 0;
  for (const json& row : fixture().at("betainc")) {
    const double a = row[0], b = row[1], x = row[2], want = row[3];
    const double got = incomplete_beta(a, b, x);
    // Values below 1e-280 underflow differently; both are "zero" for every use here.
    if (want < 1e-280) {
      EXPECT_LT(got, 1e-250);
      continue;
    }
    expect_rel(
        got, want, kSpecialRel,
        "betainc(" + std::to_string(a) + ", " + std::to_string(b) + ", " + std::to_string(x) + ")");
    ++n;
  }
  EXPECT_GT(n, 200u);
}

TEST(StatsFixture, StudentTCdfMatchesScipy) {
  for (const json& row : fixture().at("stdtr")) {
    const double df = row[0], t = row[1], want = row[2];
    expect_rel(student_t_cdf(t, df), want, kSpecialRel,
               "stdtr(" + std::to_string(df) + ", " + std::to_string(t) + ")");
  }
}

TEST(StatsFixture, StudentTQuantileMatchesMpmathAndScipy) {
  // row: df, p, quantile from mpmath at 40 digits, scipy 1.10's t.ppf (good to ~1e-9 only).
  for (const json& row : fixture().at("t_ppf")) {
    const double df = row[0], p = row[1], exact = row[2], scipy = row[3];
    const std::string what = "t.ppf(" + std::to_string(p) + ", " + std::to_string(df) + ")";
    const double got = student_t_quantile(p, df);
    expect_rel(got, exact, kSpecialRel, what + " vs mpmath");
    expect_rel(got, scipy, 1e-8, what + " vs scipy");
  }
}

TEST(StatsFixture, PairedTestsMatchScipy) {
  int exact = 0, approx_ties = 0, with_zeros = 0;
  for (const json& c : fixture().at("paired")) {
    const std::string name = c.at("name");
    const auto x = c.at("x").get<std::vector<double>>();
    const auto y = c.at("y").get<std::vector<double>>();
    SCOPED_TRACE(name + " (n=" + std::to_string(x.size()) + ")");

    const Summary sx = summarize(x), sy = summarize(y);
    expect_rel(sx.mean, c.at("x_mean"), kRel, "x mean");
    expect_rel(sx.std, c.at("x_std"), kRel, "x std");
    expect_rel(sy.mean, c.at("y_mean"), kRel, "y mean");
    expect_rel(sy.std, c.at("y_std"), kRel, "y std");

    const json& tj = c.at("ttest");
    const TTestResult t = ttest_rel(x, y);
    EXPECT_EQ(t.df, tj.at("df").get<double>());
    // A t of exactly 0 (mean difference 0) has no relative scale: compare absolutely.
    if (num(tj.at("statistic")) == 0) {
      EXPECT_NEAR(t.statistic, 0.0, 1e-12);
    } else {
      expect_rel(t.statistic, num(tj.at("statistic")), kRel, "t statistic");
    }
    expect_rel(t.p_value, num(tj.at("pvalue")), kRel, "t p-value");
    EXPECT_NEAR(t.mean_diff, tj.at("mean_diff").get<double>(), 1e-15);
    expect_rel(t.std_diff, tj.at("std_diff"), kRel, "std of d");
    expect_rel(t.std_err, tj.at("std_err"), kRel, "std err");
    EXPECT_NEAR(t.ci_low, tj.at("ci_low").get<double>(), kRel * std::fabs(t.ci_low) + 1e-15);
    EXPECT_NEAR(t.ci_high, tj.at("ci_high").get<double>(), kRel * std::fabs(t.ci_high) + 1e-15);

    if (c.at("wilcoxon").is_null()) continue;
    const json& wj = c.at("wilcoxon");
    const WilcoxonResult w = wilcoxon(x, y);
    EXPECT_EQ(w.exact, wj.at("exact").get<bool>());
    EXPECT_EQ(w.n_zero, wj.at("n_zero").get<size_t>());
    EXPECT_EQ(w.ties, wj.at("ties").get<bool>());
    EXPECT_EQ(w.statistic, wj.at("statistic").get<double>());
    expect_rel(w.p_value, wj.at("pvalue"), kRel, "wilcoxon p");
    exact += w.exact;
    approx_ties += !w.exact && w.ties && w.n_zero == 0;
    with_zeros += w.n_zero > 0;

    const json& aj = c.at("approx");
    const WilcoxonResult a = wilcoxon(x, y, WilcoxonMethod::kApprox);
    EXPECT_FALSE(a.exact);
    EXPECT_EQ(a.statistic, aj.at("statistic").get<double>());
    expect_rel(a.p_value, aj.at("pvalue"), kRel, "approx p");
    expect_rel(a.z, aj.at("z"), kRel, "approx z");
  }
  EXPECT_GE(exact, 5);
  EXPECT_GE(approx_ties, 2);
  EXPECT_GE(with_zeros, 3);
}

// --- hand-computed -----------------------------------------------------------------------------

TEST(Stats, SummaryByHand) {
  const Summary s = summarize({1, 2, 3, 4});
  EXPECT_DOUBLE_EQ(s.mean, 2.5);
  EXPECT_DOUBLE_EQ(s.std, std::sqrt(5.0 / 3.0));
  EXPECT_TRUE(std::isnan(summarize({7}).std));
}

TEST(Stats, ClosedFormsOfTheTDistribution) {
  // df = 1 is the Cauchy distribution, df = 2 has F(t) = 1/2 + t / (2 sqrt(2 + t^2)).
  for (double t : {-40.0, -3.0, -0.2, 0.0, 0.7, 5.0, 1e4}) {
    EXPECT_NEAR(student_t_cdf(t, 1), 0.5 + std::atan(t) / M_PI, 1e-15) << t;
    EXPECT_NEAR(student_t_cdf(t, 2), 0.5 + t / (2 * std::sqrt(2 + t * t)), 1e-15) << t;
  }
  EXPECT_NEAR(student_t_quantile(0.975, 1), std::tan(M_PI * 0.475), 1e-12);
  // Small tails keep their relative accuracy: Cauchy sf(t) = atan(1/t) / pi.
  EXPECT_NEAR(student_t_sf(1e6, 1) / (std::atan(1e-6) / M_PI), 1.0, 1e-12);
  EXPECT_DOUBLE_EQ(incomplete_beta(1, 1, 0.3), 0.3);
  EXPECT_NEAR(incomplete_beta(2, 3, 0.4), 0.5248, 1e-14);  // 1 - (0.6^4 + 4 * 0.4 * 0.6^3)
  EXPECT_NEAR(normal_sf(1.959963984540054), 0.025, 1e-15);
}

TEST(Stats, WilcoxonExactByHand) {
  // n = 3, all differences positive: P(R+ = 6) = 1/8, two-sided 1/4.
  const WilcoxonResult w = wilcoxon({3, 5, 9}, {1, 2, 3});
  EXPECT_TRUE(w.exact);
  EXPECT_EQ(w.r_plus, 6.0);
  EXPECT_EQ(w.statistic, 0.0);
  EXPECT_DOUBLE_EQ(w.p_value, 0.25);
  // Swapping x and y leaves the two-sided p-value alone.
  EXPECT_DOUBLE_EQ(wilcoxon({1, 2, 3}, {3, 5, 9}).p_value, 0.25);
  // n = 5, d = 1..5 with the sign of 2 negative: R+ = 13, P(R+ >= 13) = 3/32 -> p = 3/16.
  const WilcoxonResult v = wilcoxon({1, -2, 3, 4, 5}, {0, 0, 0, 0, 0});
  EXPECT_EQ(v.r_plus, 13.0);
  EXPECT_DOUBLE_EQ(v.p_value, 3.0 / 16.0);
}

TEST(Stats, WilcoxonTiesAndZeros) {
  // Ties without zeros: normal approximation with the tie correction.
  const std::vector<double> x{1, 2, 3, 4}, y{0, 1, 2, 6};  // d = 1, 1, 1, -2
  const WilcoxonResult w = wilcoxon(x, y);
  EXPECT_FALSE(w.exact);
  EXPECT_TRUE(w.ties);
  // ranks 2, 2, 2, 4: R+ = 6, R- = 4, var = (4*5*9 - 0.5 * 3*8) / 24 = 7
  EXPECT_EQ(w.statistic, 4.0);
  EXPECT_NEAR(w.z, (4.0 - 5.0) / std::sqrt(7.0), 1e-15);
  EXPECT_NEAR(w.p_value, std::erfc(1.0 / std::sqrt(7.0) / std::sqrt(2.0)), 1e-15);
  EXPECT_THROW(wilcoxon(x, y, WilcoxonMethod::kExact), InputError);
  // All differences zero: undefined, reported as NaN (scipy raises).
  const WilcoxonResult z = wilcoxon({1, 2, 3}, {1, 2, 3});
  EXPECT_EQ(z.n_zero, 3u);
  EXPECT_TRUE(std::isnan(z.p_value));
  EXPECT_EQ(z.statistic, 0.0);
}

TEST(Stats, TTestDegenerateAndInterval) {
  const TTestResult c = ttest_rel({1.5, 2.5, 3.5}, {1, 2, 3});
  EXPECT_TRUE(std::isinf(c.statistic) && c.statistic > 0);
  EXPECT_EQ(c.p_value, 0.0);
  EXPECT_EQ(c.ci_low, 0.5);
  const TTestResult z = ttest_rel({1, 2, 3}, {1, 2, 3});
  EXPECT_TRUE(std::isnan(z.statistic) && std::isnan(z.p_value));
  // d = 1, 2, 3: mean 2, se = 1/sqrt(3), t = 2 sqrt(3); df = 2 has a closed form.
  const TTestResult t = ttest_rel({2, 4, 6}, {1, 2, 3}, 0.9);
  EXPECT_NEAR(t.statistic, 2 * std::sqrt(3.0), 1e-14);
  const double tt = t.statistic;
  EXPECT_NEAR(t.p_value, 1 - tt / std::sqrt(2 + tt * tt), 1e-14);
  // t_{0.95, 2} = 2.919985580353...: q = 2(p - 1/2) / sqrt(1 - 4 (p - 1/2)^2) ... p = .95
  const double q = 0.9 / std::sqrt(2.0 * 0.95 * 0.05);
  EXPECT_NEAR(t.ci_high - t.mean_diff, q / std::sqrt(3.0), 1e-12);
}

TEST(Stats, ComparePairedUsesAugmentedMinusBaseline) {
  const std::vector<double> base{0.70, 0.72, 0.69, 0.75, 0.71};
  const std::vector<double> aug{0.74, 0.73, 0.72, 0.78, 0.70};
  const PairedComparison c = compare_paired(base, aug);
  EXPECT_GT(c.difference.mean, 0);
  EXPECT_DOUBLE_EQ(c.t_test.mean_diff, c.difference.mean);
  EXPECT_DOUBLE_EQ(c.t_test.std_diff, c.difference.std);
  EXPECT_EQ(c.wilcoxon.r_plus, wilcoxon(aug, base).r_plus);
  EXPECT_LT(c.t_test.ci_low, c.difference.mean);
  EXPECT_GT(c.t_test.ci_high, c.difference.mean);
  EXPECT_DOUBLE_EQ(c.baseline.mean, summarize(base).mean);
}

TEST(Stats, InputErrors) {
  auto message = [](const std::function<void()>& f) -> std::string {
    try {
      f();
    } catch (const InputError& e) {
      return e.what();
    }
    return "";
  };
  std::string m = message([] { ttest_rel({1, 2}, {1}); });
  EXPECT_NE(m.find("ttest_rel"), std::string::npos) << m;
  m = message([] { ttest_rel({1}, {2}); });
  EXPECT_NE(m.find("at least 2"), std::string::npos) << m;
  m = message([] { wilcoxon({1, std::nan("")}, {1, 2}); });
  EXPECT_NE(m.find("wilcoxon"), std::string::npos) << m;
  m = message([] { compare_paired({1, 2, 3}, {1, 2}); });
  EXPECT_NE(m.find("compare_paired"), std::string::npos) << m;
  EXPECT_THROW(student_t_quantile(1.0, 3), InputError);
  EXPECT_THROW(student_t_cdf(0.0, 0), InputError);
  EXPECT_THROW(incomplete_beta(1, 1, 1.5), InputError);
  EXPECT_THROW(summarize({}), InputError);
}

}  // namespace
}  // namespace rareforge::stats
