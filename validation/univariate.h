// Two-sample tests and distances on one column, each reproducing scipy 1.10.1 (Debian's
// python3-scipy); tests/fixtures/validation.json (made by
// tests/fixtures/make_validation_fixture.py) is the proof, to 1e-6 relative on p-values.
//
//   ks_2samp            scipy.stats.ks_2samp(a, b) (two-sided, method="auto"): the statistic
//                       D = max |F_a - F_b| over the pooled values; the p-value is exact when
//                       max(n_a, n_b) <= 10000 (lattice-path counts, scipy's
//                       _attempt_exact_2kssamp: the "outside the square" series when n_a == n_b,
//                       else the probability of staying strictly inside |x/n_a - y/n_b| < D), and
//                       otherwise the asymptotic kstwo.sf(D, round(n_a n_b / (n_a + n_b))) — the
//                       two-sided one-sample Kolmogorov distribution by Simard & L'Ecuyer's choice
//                       of algorithm (Ruben-Gambino, Durbin matrix, Pomeranz, Pelz-Good, exact
//                       one-sided Smirnov), as scipy.stats._ksstats._kolmogn. In exact mode the
//                       statistic is rounded to the lattice (h / lcm), as scipy does.
//   wasserstein_1d      scipy.stats.wasserstein_distance(a, b): integral of |F_a - F_b|.
//   chi2_contingency    scipy.stats.chi2_contingency(table) with its default Yates correction
//                       (applied only when the degrees of freedom are 1). Columns whose total is 0
//                       are dropped first (scipy refuses zero expected counts); with one column
//                       left the statistic is 0 and p = 1.
//
// Inputs must be finite (missing values are removed by the caller) and non-empty (InputError).
#pragma once

#include <cstdint>
#include <vector>

namespace rareforge::validation {

struct KsResult {
  double statistic = 0;
  double p_value = 1;
  bool exact = false;  ///< p-value from the exact distribution (else asymptotic)
};
KsResult ks_2samp(std::vector<double> a, std::vector<double> b);

/// P(D_n >= x) for the two-sided one-sample Kolmogorov statistic (scipy.stats.kstwo.sf(x, n)).
double kolmogorov_sf(int64_t n, double x);
/// P(D+_n >= x), the exact one-sided Smirnov tail (scipy.special.smirnov(n, x)).
double smirnov_sf(int64_t n, double x);

double wasserstein_1d(std::vector<double> a, std::vector<double> b);

/// Regularised upper incomplete gamma Q(a, x) (scipy.special.gammaincc), a > 0, x >= 0.
double gamma_q(double a, double x);
/// Chi-square upper tail with `dof` degrees of freedom (scipy.stats.chi2.sf).
double chi2_sf(double x, double dof);

struct Chi2Result {
  double statistic = 0;
  double p_value = 1;
  int dof = 0;
};
/// rows x cols table of counts (row-major, rows >= 1, cols >= 1, entries >= 0).
Chi2Result chi2_contingency(const std::vector<double>& counts, int rows, int cols);

}  // namespace rareforge::validation
