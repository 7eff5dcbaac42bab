// Paired significance tests for the baseline-vs-augmented comparison protocol.
//
// The protocol runs seeds 1..S, computes a metric per seed for the baseline and the augmented
// training set, and asks whether the paired difference d_s = augmented_s - baseline_s is more
// than noise. This module gives mean ± std, a t confidence interval, the paired t-test and the
// Wilcoxon signed-rank test, reproducing scipy 1.10.1 (Debian's python3-scipy) to ~1e-12:
// tests/fixtures/stats.json (made by tests/fixtures/make_stats_fixture.py) is the proof.
//
// Sign convention: every paired function takes (x, y) and works on d = x - y, as scipy does
// (compare_paired(baseline, augmented) passes x = augmented, y = baseline). Both tests are
// two-sided, so the p-values do not depend on the order.
//
// The Student t distribution is computed here (no dependency): its CDF through the regularised
// incomplete beta function I_x(a, b) (continued fraction, modified Lentz, as Numerical Recipes'
// betacf, with ln B(a, b) from Stirling differences so large df lose no digits) and its
// quantile by safeguarded Newton steps on that CDF. Relative error is below 1e-12: measured
// <= 6e-14 against scipy's betainc/stdtr and mpmath's quantile for df = 1..5000.
//
// Input checks: sizes must match, at least one pair (the t-test needs two), values finite;
// anything else is an InputError naming the function.
#pragma once

#include <cstddef>
#include <limits>
#include <vector>

namespace rareforge::stats {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// --- special functions -----------------------------------------------------------------------

/// Regularised incomplete beta I_x(a, b) = B(x; a, b) / B(a, b), for a, b > 0 and x in [0, 1].
double incomplete_beta(double a, double b, double x);
/// Student t CDF P(T <= t) with df > 0 degrees of freedom (scipy.special.stdtr).
double student_t_cdf(double t, double df);
/// Upper tail P(T >= t) (computed directly, so small tails keep their relative accuracy).
double student_t_sf(double t, double df);
/// Quantile: the t with student_t_cdf(t, df) = p, p in (0, 1) (scipy.stats.t.ppf).
double student_t_quantile(double p, double df);
/// Standard normal upper tail P(Z >= z) = erfc(z / sqrt 2) / 2.
double normal_sf(double z);

// --- summaries -------------------------------------------------------------------------------

/// Mean and sample standard deviation (ddof = 1; NaN for n = 1) of a list of values.
struct Summary {
  size_t n = 0;
  double mean = kNaN;
  double std = kNaN;
};
Summary summarize(const std::vector<double>& values);

// --- paired t-test ---------------------------------------------------------------------------

/// scipy.stats.ttest_rel(x, y) (two-sided) plus the confidence interval of the mean difference:
///   d = x - y, mean_diff = mean(d), std_err = std(d, ddof=1) / sqrt(n), df = n - 1,
///   statistic t = mean_diff / std_err, p_value = 2 P(T_df >= |t|),
///   ci = mean_diff ± t_{(1+confidence)/2, df} std_err.
/// The quantile is accurate to ~1e-13; scipy 1.10's t.ppf is off by up to ~2e-9 relative, so
/// an interval computed with it agrees with ours to that level only.
/// When every difference is equal (std_err = 0) the test degenerates as in scipy: t = ±inf and
/// p = 0 if the mean difference is non-zero, t = p = NaN if all differences are 0 (then the
/// interval is the single point mean_diff).
struct TTestResult {
  size_t n = 0;
  double df = kNaN;
  double mean_diff = kNaN;
  double std_diff = kNaN;  ///< std of d, ddof = 1
  double std_err = kNaN;
  double statistic = kNaN;
  double p_value = kNaN;
  double confidence = 0.95;
  double ci_low = kNaN, ci_high = kNaN;
};
/// Needs n >= 2 pairs; confidence in (0, 1).
TTestResult ttest_rel(const std::vector<double>& x, const std::vector<double>& y,
                      double confidence = 0.95);

// --- Wilcoxon signed-rank test ---------------------------------------------------------------

enum class WilcoxonMethod {
  /// exact when n <= 50 and there are no zero and no tied |d|; otherwise the normal approximation.
  kAuto,
  /// exact null distribution of R+; InputError if there are zeros or ties (it assumes neither).
  kExact,
  /// normal approximation with the tie correction.
  kApprox,
};

/// scipy.stats.wilcoxon(x, y, zero_method="wilcox", correction=False, alternative="two-sided").
///   d = x - y; zero differences are dropped (zero_method "wilcox"); the |d| are ranked with
///   average ranks for ties; R+ / R- = sums of the ranks of positive / negative d;
///   statistic T = min(R+, R-).
///   exact:  p = min(1, 2 min(P(R+ <= r+), P(R+ >= r+))) under the null distribution of R+ for
///           n_used ranks 1..n (each sign ±1 with probability 1/2), and p = 1 when r+ is the
///           centre of the distribution;
///   approx: z = (T - n(n+1)/4) / sqrt((n(n+1)(2n+1) - sum_t t(t^2-1)/2) / 24), t = size of each
///           group of tied |d|, n = n_used; p = 2 P(Z >= |z|); no continuity correction.
/// Method choice (kAuto) deliberately differs from scipy 1.10.1 in one case: scipy 1.10's "auto"
/// uses the exact distribution whenever n <= 50 and no d is zero, even with tied |d| (it then
/// truncates the half-integer R+, a distribution that does not describe tied ranks); rareforge
/// uses the normal approximation with the tie correction there (equal to scipy's
/// method="approx"). Later scipy releases also stop using that distribution with ties (a
/// permutation test for n <= 13, the normal approximation above). Every other case matches
/// scipy 1.10.1's "auto".
/// If every difference is zero the test is undefined (scipy raises): statistic = 0, z = NaN and
/// p_value = NaN are returned, so a comparison of identical runs reports "no test" instead of
/// stopping.
struct WilcoxonResult {
  size_t n = 0;        ///< pairs given
  size_t n_zero = 0;   ///< pairs with d = 0 (dropped)
  size_t n_used = 0;   ///< n - n_zero
  bool ties = false;   ///< some non-zero |d| are tied
  bool exact = false;  ///< p from the exact distribution (else the normal approximation)
  double r_plus = kNaN, r_minus = kNaN;
  double statistic = kNaN;  ///< min(R+, R-)
  double z = kNaN;          ///< normal approximation only
  double p_value = kNaN;
};
WilcoxonResult wilcoxon(const std::vector<double>& x, const std::vector<double>& y,
                        WilcoxonMethod method = WilcoxonMethod::kAuto);

// --- the protocol's comparison ---------------------------------------------------------------

/// Baseline vs augmented over the same seeds (index s of both vectors = seed s).
struct PairedComparison {
  Summary baseline, augmented;
  Summary difference;  ///< of augmented - baseline
  TTestResult t_test;  ///< on augmented - baseline, 95 % interval
  WilcoxonResult wilcoxon;
};
/// Needs n >= 2 seeds.
PairedComparison compare_paired(const std::vector<double>& baseline,
                                const std::vector<double>& augmented);

}  // namespace rareforge::stats
