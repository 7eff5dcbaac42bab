#include "classifiers/stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"

namespace rareforge::stats {

namespace {

constexpr double kPi = 3.14159265358979323846;

/// Continued fraction of I_x(a, b) (Numerical Recipes' betacf, modified Lentz).
double beta_continued_fraction(double a, double b, double x) {
  constexpr double kTiny = 1e-300;
  constexpr double kEps = 1e-16;
  constexpr int kMaxIter = 100000;
  const double qab = a + b, qap = a + 1, qam = a - 1;
  double c = 1.0;
  double d = 1.0 - qab * x / qap;
  if (std::fabs(d) < kTiny) d = kTiny;
  d = 1.0 / d;
  double h = d;
  for (int m = 1; m <= kMaxIter; ++m) {
    const double m2 = 2.0 * m;
    double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
    d = 1.0 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1.0 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    h *= d * c;
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
    d = 1.0 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1.0 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    const double del = d * c;
    h *= del;
    if (std::fabs(del - 1.0) < kEps) return h;
  }
  RF_CHECK(false, "incomplete beta continued fraction did not converge (a={}, b={}, x={})", a, b,
           x);
  return h;
}

/// lgamma(x) - ((x - 1/2) ln x - x + ln sqrt(2 pi)) for x >= 10: the Stirling series, to
/// double precision there.
double stirling_correction(double x) {
  static constexpr double kCoef[] = {1.0 / 12,    -1.0 / 360,       1.0 / 1260,
                                     -1.0 / 1680, 1.0 / 1188,       -691.0 / 360360,
                                     1.0 / 156,   -3617.0 / 122400, 43867.0 / 244188};
  const double x2 = 1.0 / (x * x);
  double sum = 0;
  for (int k = 8; k >= 0; --k) sum = sum * x2 + kCoef[k];
  return sum / x;
}

/// ln B(a, b) without the cancellation of lgamma(a) + lgamma(b) - lgamma(a + b) for large
/// arguments (the approach of R's lbeta): the big Stirling terms are combined analytically.
double log_beta(double a, double b) {
  constexpr double kLnSqrt2Pi = 0.91893853320467274178;
  const double p = std::min(a, b), q = std::max(a, b);
  if (p >= 10) {
    const double corr =
        stirling_correction(p) + stirling_correction(q) - stirling_correction(p + q);
    return -0.5 * std::log(q) + kLnSqrt2Pi + corr + (p - 0.5) * std::log(p / (p + q)) +
           q * std::log1p(-p / (p + q));
  }
  if (q >= 10) {
    const double corr = stirling_correction(q) - stirling_correction(p + q);
    return std::lgamma(p) + corr + p - p * std::log(p + q) + (q - 0.5) * std::log1p(-p / (p + q));
  }
  return std::lgamma(p) + std::lgamma(q) - std::lgamma(p + q);
}

/// I_x(a, b) given x and y = 1 - x separately, so that neither loses digits to cancellation
/// (ln x and ln y come from whichever of the two is small).
double incomplete_beta_xy(double a, double b, double x, double y) {
  if (x <= 0) return 0.0;
  if (y <= 0) return 1.0;
  const double log_x = x > 0.5 ? std::log1p(-y) : std::log(x);
  const double log_y = y > 0.5 ? std::log1p(-x) : std::log(y);
  const double log_front = a * log_x + b * log_y - log_beta(a, b);
  if (x < (a + 1) / (a + b + 2)) {
    return std::exp(log_front) * beta_continued_fraction(a, b, x) / a;
  }
  return 1.0 - std::exp(log_front) * beta_continued_fraction(b, a, y) / b;
}

void check_df(const char* fn, double df) {
  RF_CHECK_INPUT(std::isfinite(df) && df > 0, "{}: degrees of freedom {} must be > 0", fn, df);
}

double student_t_pdf(double t, double df) {
  const double log_norm =
      std::lgamma((df + 1) / 2) - std::lgamma(df / 2) - 0.5 * std::log(df * kPi);
  return std::exp(log_norm - (df + 1) / 2 * std::log1p(t * t / df));
}

void check_pairs(const char* fn, const std::vector<double>& x, const std::vector<double>& y,
                 size_t min_n) {
  RF_CHECK_INPUT(x.size() == y.size(), "{}: x has {} values but y has {}; the test is paired", fn,
                 x.size(), y.size());
  RF_CHECK_INPUT(x.size() >= min_n, "{}: {} pair(s) given; the test needs at least {}", fn,
                 x.size(), min_n);
  for (size_t i = 0; i < x.size(); ++i) {
    RF_CHECK_INPUT(std::isfinite(x[i]) && std::isfinite(y[i]),
                   "{}: pair {} is ({}, {}); values must be finite numbers", fn, i, x[i], y[i]);
  }
}

/// scipy's _get_wilcoxon_distr: P(R+ = r), r = 0..n(n+1)/2, built one rank at a time.
std::vector<double> wilcoxon_pmf(size_t n) {
  std::vector<double> c(1, 1.0);
  for (size_t k = 1; k <= n; ++k) {
    std::vector<double> next(k * (k + 1) / 2 + 1, 0.0);
    const size_t m = c.size();
    for (size_t i = 0; i < m; ++i) next[i] = c[i] * 0.5;
    const size_t off = next.size() - m;
    for (size_t i = 0; i < m; ++i) next[off + i] += c[i] * 0.5;
    c.swap(next);
  }
  return c;
}

}  // namespace

// --- special functions -----------------------------------------------------------------------

double incomplete_beta(double a, double b, double x) {
  RF_CHECK_INPUT(a > 0 && b > 0 && std::isfinite(a) && std::isfinite(b),
                 "incomplete_beta: a = {} and b = {} must be finite and > 0", a, b);
  RF_CHECK_INPUT(x >= 0 && x <= 1, "incomplete_beta: x = {} is outside [0, 1]", x);
  return incomplete_beta_xy(a, b, x, 1.0 - x);
}

double student_t_sf(double t, double df) {
  check_df("student_t_sf", df);
  RF_CHECK_INPUT(!std::isnan(t), "student_t_sf: t is NaN");
  if (t < 0) return 1.0 - student_t_sf(-t, df);
  if (std::isinf(t)) return 0.0;
  const double r = t * t / df;  // P(T >= t) = I_{1/(1+r)}(df/2, 1/2) / 2
  return 0.5 * incomplete_beta_xy(df / 2, 0.5, 1.0 / (1.0 + r), r / (1.0 + r));
}

double student_t_cdf(double t, double df) {
  RF_CHECK_INPUT(!std::isnan(t), "student_t_cdf: t is NaN");
  return student_t_sf(-t, df);
}

double student_t_quantile(double p, double df) {
  check_df("student_t_quantile", df);
  RF_CHECK_INPUT(p > 0 && p < 1, "student_t_quantile: p = {} must be in (0, 1)", p);
  if (p == 0.5) return 0.0;
  // Solve sf(t) = q for t > 0 with q the smaller tail, then restore the sign.
  const double q = p < 0.5 ? p : 1.0 - p;
  double lo = 0, hi = 1;
  while (student_t_sf(hi, df) > q) {
    lo = hi;
    hi *= 2;
    RF_CHECK(hi < 1e300, "student_t_quantile: no bracket for p={}, df={}", p, df);
  }
  double t = 0.5 * (lo + hi);
  for (int iter = 0; iter < 300; ++iter) {
    const double f = student_t_sf(t, df) - q;  // decreasing in t
    if (f == 0) break;
    if (f > 0) {
      lo = t;
    } else {
      hi = t;
    }
    double next = t + f / student_t_pdf(t, df);
    if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
    const bool done = std::fabs(next - t) <= 1e-15 * std::fabs(next);
    t = next;
    if (done || hi - lo <= 1e-16 * hi) break;
  }
  return p < 0.5 ? -t : t;
}

double normal_sf(double z) { return 0.5 * std::erfc(z / std::sqrt(2.0)); }

// --- summaries -------------------------------------------------------------------------------

Summary summarize(const std::vector<double>& values) {
  RF_CHECK_INPUT(!values.empty(), "summarize: no values given");
  for (size_t i = 0; i < values.size(); ++i) {
    RF_CHECK_INPUT(std::isfinite(values[i]), "summarize: value {} is {}; values must be finite", i,
                   values[i]);
  }
  Summary s;
  s.n = values.size();
  s.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(s.n);
  if (s.n > 1) {
    double ss = 0;
    for (double v : values) ss += (v - s.mean) * (v - s.mean);
    s.std = std::sqrt(ss / static_cast<double>(s.n - 1));
  }
  return s;
}

// --- t-test ----------------------------------------------------------------------------------

TTestResult ttest_rel(const std::vector<double>& x, const std::vector<double>& y,
                      double confidence) {
  check_pairs("ttest_rel", x, y, 2);
  RF_CHECK_INPUT(confidence > 0 && confidence < 1,
                 "ttest_rel: confidence = {} must be in (0, 1), e.g. 0.95", confidence);
  std::vector<double> d(x.size());
  for (size_t i = 0; i < x.size(); ++i) d[i] = x[i] - y[i];
  const Summary s = summarize(d);
  TTestResult r;
  r.n = s.n;
  r.df = static_cast<double>(s.n - 1);
  r.mean_diff = s.mean;
  r.std_diff = s.std;
  r.std_err = s.std / std::sqrt(static_cast<double>(s.n));
  r.confidence = confidence;
  if (r.std_err > 0) {
    r.statistic = r.mean_diff / r.std_err;
    r.p_value = 2.0 * student_t_sf(std::fabs(r.statistic), r.df);
    const double tq = student_t_quantile((1.0 + confidence) / 2.0, r.df);
    r.ci_low = r.mean_diff - tq * r.std_err;
    r.ci_high = r.mean_diff + tq * r.std_err;
  } else {
    if (r.mean_diff != 0) {
      r.statistic = std::copysign(std::numeric_limits<double>::infinity(), r.mean_diff);
      r.p_value = 0.0;
    }
    r.ci_low = r.ci_high = r.mean_diff;
  }
  return r;
}

// --- Wilcoxon --------------------------------------------------------------------------------

WilcoxonResult wilcoxon(const std::vector<double>& x, const std::vector<double>& y,
                        WilcoxonMethod method) {
  check_pairs("wilcoxon", x, y, 1);
  WilcoxonResult r;
  r.n = x.size();
  std::vector<double> d;
  d.reserve(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double di = x[i] - y[i];
    if (di == 0) {
      ++r.n_zero;
    } else {
      d.push_back(di);
    }
  }
  r.n_used = d.size();
  const size_t n = r.n_used;

  // Average ranks of |d|; tie groups feed the variance correction.
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return std::fabs(d[a]) < std::fabs(d[b]); });
  std::vector<double> rank(n);
  double tie_term = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i + 1;
    while (j < n && std::fabs(d[order[j]]) == std::fabs(d[order[i]])) ++j;
    const double avg = 0.5 * static_cast<double>(i + 1 + j);  // mean of ranks i+1..j
    for (size_t k = i; k < j; ++k) rank[order[k]] = avg;
    const double t = static_cast<double>(j - i);
    if (j - i > 1) {
      r.ties = true;
      tie_term += t * (t * t - 1);
    }
    i = j;
  }
  r.r_plus = r.r_minus = 0;
  for (size_t i = 0; i < n; ++i) (d[i] > 0 ? r.r_plus : r.r_minus) += rank[i];
  r.statistic = std::min(r.r_plus, r.r_minus);
  if (n == 0) {
    r.statistic = 0;
    return r;  // every difference is zero: undefined, p = NaN (see header)
  }

  bool exact = false;
  switch (method) {
    case WilcoxonMethod::kAuto:
      exact = r.n <= 50 && r.n_zero == 0 && !r.ties;
      break;
    case WilcoxonMethod::kExact:
      RF_CHECK_INPUT(r.n_zero == 0 && !r.ties,
                     "wilcoxon: the exact distribution assumes no zero and no tied differences "
                     "({} zero(s), ties: {}); use the normal approximation",
                     r.n_zero, r.ties ? "yes" : "no");
      exact = true;
      break;
    case WilcoxonMethod::kApprox:
      exact = false;
      break;
  }
  r.exact = exact;
  if (exact) {
    const std::vector<double> pmf = wilcoxon_pmf(n);
    const size_t rp = static_cast<size_t>(r.r_plus);
    if (rp == (pmf.size() - 1) / 2) {
      r.p_value = 1.0;
    } else {
      double p_less = 0, p_greater = 0;
      for (size_t i = 0; i <= rp; ++i) p_less += pmf[i];
      for (size_t i = rp; i < pmf.size(); ++i) p_greater += pmf[i];
      r.p_value = std::min(1.0, 2.0 * std::min(p_less, p_greater));
    }
  } else {
    const double cnt = static_cast<double>(n);
    const double mean = cnt * (cnt + 1) * 0.25;
    double var = cnt * (cnt + 1) * (2 * cnt + 1);
    var -= 0.5 * tie_term;
    const double se = std::sqrt(var / 24);
    r.z = (r.statistic - mean) / se;
    r.p_value = 2.0 * normal_sf(std::fabs(r.z));
  }
  return r;
}

// --- protocol --------------------------------------------------------------------------------

PairedComparison compare_paired(const std::vector<double>& baseline,
                                const std::vector<double>& augmented) {
  check_pairs("compare_paired", augmented, baseline, 2);
  PairedComparison c;
  c.baseline = summarize(baseline);
  c.augmented = summarize(augmented);
  std::vector<double> d(baseline.size());
  for (size_t i = 0; i < d.size(); ++i) d[i] = augmented[i] - baseline[i];
  c.difference = summarize(d);
  c.t_test = ttest_rel(augmented, baseline, 0.95);
  c.wilcoxon = wilcoxon(augmented, baseline);
  return c;
}

}  // namespace rareforge::stats
