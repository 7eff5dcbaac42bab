#include "validation/univariate.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.h"

namespace rareforge::validation {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr int kE128 = 128;
const double kEp128 = std::ldexp(1.0, kE128);
const double kEm128 = std::ldexp(1.0, -kE128);

double clip01(double p) { return std::min(1.0, std::max(0.0, p)); }

double log_nfactorial_div_n_pow_n(double n) {
  static const double c[] = {-2.955065359477124183e-2,  6.4102564102564102564e-3,
                             -1.9175269175269175269e-3, 8.4175084175084175084e-4,
                             -5.952380952380952381e-4,  7.9365079365079365079e-4,
                             -2.7777777777777777778e-3, 8.3333333333333333333e-2};
  const double rn = 1.0 / n;
  double p = 0;
  for (double v : c) p = p * (rn / n) + v;
  return std::log(n) / 2 - n + std::log(2 * kPi) / 2 + rn * p;
}

using Mat = std::vector<double>;  // m x m row-major

Mat matmul(const Mat& a, const Mat& b, int m) {
  Mat c(static_cast<size_t>(m) * m, 0.0);
  for (int i = 0; i < m; ++i)
    for (int k = 0; k < m; ++k) {
      const double v = a[size_t(i) * m + k];
      if (v == 0) continue;
      for (int j = 0; j < m; ++j) c[size_t(i) * m + j] += v * b[size_t(k) * m + j];
    }
  return c;
}

/// Pr(D_n <= d) by the Durbin matrix (Marsaglia, Tsang, Wang 2003), scipy's _kolmogn_DMTW.
double kolmogn_dmtw(int64_t n, double d) {
  if (d >= 1.0) return 1.0;
  const double nd = double(n) * d;
  if (nd <= 0.5) return 0.0;
  const int k = static_cast<int>(std::ceil(nd));
  const double h = k - nd;
  const int m = 2 * k - 1;
  Mat H(size_t(m) * m, 0.0);
  std::vector<double> v(m), w(m);
  double fac = 1.0;
  for (int j = 1; j <= m; ++j) {
    w[j - 1] = fac;
    fac /= j;
    v[j - 1] = (1.0 - std::pow(h, j)) * fac;
  }
  const double tt = std::pow(std::max(2 * h - 1.0, 0.0), m) - 2 * std::pow(h, m);
  v[m - 1] = (1.0 + tt) * fac;
  for (int i = 1; i < m; ++i)
    for (int r = i - 1; r < m; ++r) H[size_t(r) * m + i] = w[r - (i - 1)];
  for (int r = 0; r < m; ++r) H[size_t(r) * m] = v[r];
  for (int c = 0; c < m; ++c) H[size_t(m - 1) * m + c] = v[m - 1 - c];
  Mat P(size_t(m) * m, 0.0);
  for (int i = 0; i < m; ++i) P[size_t(i) * m + i] = 1.0;
  int64_t nn = n;
  int expnt = 0, hexpnt = 0;
  while (nn > 0) {
    if (nn % 2) {
      P = matmul(P, H, m);
      expnt += hexpnt;
    }
    H = matmul(H, H, m);
    hexpnt *= 2;
    if (std::fabs(H[size_t(k - 1) * m + (k - 1)]) > kEp128) {
      for (double& x : H) x /= kEp128;
      hexpnt += kE128;
    }
    nn /= 2;
  }
  double p = P[size_t(k - 1) * m + (k - 1)];
  for (int64_t i = 1; i <= n; ++i) {
    p = double(i) * p / double(n);
    if (std::fabs(p) < kEm128) {
      p *= kEp128;
      expnt -= kE128;
    }
  }
  if (expnt != 0) p = std::ldexp(p, expnt);
  return clip01(p);
}

void pomeranz_j1j2(int64_t i, int64_t n, int64_t ll, int64_t ceilf, int64_t roundf, int64_t* j1o,
                   int64_t* j2o) {
  int64_t j1, j2;
  if (i == 0) {
    j1 = -ll - ceilf - 1;
    j2 = ll + ceilf - 1;
  } else {
    const int64_t ip1div2 = (i + 1) / 2, ip1mod2 = (i + 1) % 2;
    if (ip1mod2 == 0) {
      if (ip1div2 == n + 1) {
        j1 = n - ll - ceilf - 1;
        j2 = n + ll + ceilf - 1;
      } else {
        j1 = ip1div2 - 1 - ll - roundf - 1;
        j2 = ip1div2 + ll - 1 + ceilf - 1;
      }
    } else {
      j1 = ip1div2 - 1 - ll - 1;
      j2 = ip1div2 + ll + roundf - 1;
    }
  }
  *j1o = std::max<int64_t>(j1 + 2, 0);
  *j2o = std::min<int64_t>(j2, n);
}

/// Pr(D_n <= x) by the Pomeranz recursion, scipy's _kolmogn_Pomeranz.
double kolmogn_pomeranz(int64_t n, double x) {
  const double t = double(n) * x;
  const int64_t ll = static_cast<int64_t>(std::floor(t));
  const double f = t - double(ll);
  const double g = std::min(f, 1.0 - f);
  const int64_t ceilf = f > 0 ? 1 : 0, roundf = f > 0.5 ? 1 : 0;
  const int64_t npwrs = 2 * (ll + 1);
  std::vector<double> gp(npwrs), tgp(npwrs), omp(npwrs);
  gp[0] = tgp[0] = omp[0] = 1.0;
  const double a = g / double(n), b = 2 * g / double(n), c = (1 - 2 * g) / double(n);
  for (int64_t m = 1; m < npwrs; ++m) {
    gp[m] = gp[m - 1] * a / double(m);
    tgp[m] = tgp[m - 1] * b / double(m);
    omp[m] = omp[m - 1] * c / double(m);
  }
  std::vector<double> V0(npwrs, 0.0), V1(npwrs, 0.0);
  V1[0] = 1;
  int64_t V0s = 0, V1s = 0;
  int expnt = 0;
  int64_t j1, j2;
  pomeranz_j1j2(0, n, ll, ceilf, roundf, &j1, &j2);
  std::vector<double> conv;
  for (int64_t i = 1; i < 2 * n + 2; ++i) {
    const int64_t k1 = j1;
    std::swap(V0, V1);
    std::swap(V0s, V1s);
    std::fill(V1.begin(), V1.end(), 0.0);
    pomeranz_j1j2(i, n, ll, ceilf, roundf, &j1, &j2);
    const std::vector<double>& pw = (i == 1 || i == 2 * n + 1) ? gp : (i % 2 ? tgp : omp);
    const int64_t ln2 = j2 - k1 + 1;
    if (ln2 > 0) {
      // numpy slices clip at the end of the array.
      const int64_t s0 = k1 - V0s;
      const int64_t la = std::max<int64_t>(0, std::min<int64_t>(s0 + ln2, npwrs) - s0);
      const int64_t lb = std::min<int64_t>(ln2, npwrs);
      conv.assign(size_t(la + lb - 1 > 0 ? la + lb - 1 : 0), 0.0);
      for (int64_t p = 0; p < la; ++p)
        for (int64_t q = 0; q < lb; ++q) conv[size_t(p + q)] += V0[size_t(s0 + p)] * pw[size_t(q)];
      const int64_t cs = j1 - k1, cl = j2 - j1 + 1;
      double mx = 0;
      for (int64_t p = 0; p < cl; ++p) {
        const int64_t src = cs + p;
        V1[size_t(p)] = (src >= 0 && src < int64_t(conv.size())) ? conv[size_t(src)] : 0.0;
        mx = std::max(mx, V1[size_t(p)]);
      }
      if (0 < mx && mx < kEm128) {
        for (double& v : V1) v *= kEp128;
        expnt -= kE128;
      }
      V1s = V0s + j1 - k1;
    }
  }
  double ans = V1[size_t(n - V1s)];
  for (int64_t m = 1; m <= n; ++m) {
    if (std::fabs(ans) > kEp128) {
      ans *= kEm128;
      expnt += kE128;
    }
    ans *= double(m);
  }
  if (expnt != 0) ans = std::ldexp(ans, expnt);
  return clip01(ans);
}

/// Pelz-Good approximation to Pr(D_n <= x), scipy's _kolmogn_PelzGood.
double kolmogn_pelz_good(int64_t n, double x) {
  if (x <= 0.0) return 0.0;
  if (x >= 1.0) return 1.0;
  const double pi2 = kPi * kPi, pi4 = pi2 * pi2, pi6 = pi4 * pi2;
  const double z = std::sqrt(double(n)) * x;
  const double z2 = z * z, z3 = z2 * z, z4 = z2 * z2, z6 = z4 * z2;
  const double qlog = -pi2 / 8 / z2;
  if (qlog < -708) return 0.0;
  double q = std::exp(qlog);
  const double k1a = -z2, k1b = pi2 / 4;
  const double k2a = 6 * z6 + 2 * z4, k2b = (2 * z4 - 5 * z2) * pi2 / 4,
               k2c = pi4 * (1 - 2 * z2) / 16;
  const double k3d = pi6 * (5 - 30 * z2) / 64, k3c = pi4 * (-60 * z2 + 212 * z4) / 16,
               k3b = pi2 * (135 * z4 - 96 * z6) / 4, k3a = -30 * z6 - 90 * std::pow(z, 8);
  double K[4] = {0, 0, 0, 0};
  const int maxk = static_cast<int>(std::ceil(16 * z / kPi));
  for (int k = maxk; k > 0; --k) {
    const double m = 2.0 * k - 1, m2 = m * m, m4 = m2 * m2, m6 = m4 * m2;
    const double qp = std::pow(q, 8.0 * k);
    const double co[4] = {1.0, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4,
                          k3a + k3b * m2 + k3c * m4 + k3d * m6};
    for (int i = 0; i < 4; ++i) K[i] = K[i] * qp + co[i];
  }
  const double den[4] = {z, 6 * z4, 72 * std::pow(z, 7), 6480 * std::pow(z, 10)};
  for (int i = 0; i < 4; ++i) K[i] = K[i] * q * std::sqrt(2 * kPi) / den[i];
  q = std::exp(-pi2 / 2 / z2);
  double k2extra = 0, k3extra = 0;
  const double s3z = std::sqrt(3.0) * z;
  for (int k = maxk; k > 0; --k) {
    const double ks2 = double(k) * k, qp = std::pow(q, ks2), kspi = kPi * k;
    k2extra += ks2 * qp;
    k3extra += (s3z + kspi) * (s3z - kspi) * ks2 * qp;
  }
  K[2] += k2extra * pi2 * std::sqrt(2 * kPi) / (-36 * z3);
  K[3] += k3extra * pi2 * std::sqrt(2 * kPi) / (216 * z6);
  double sum = 0;
  for (int i = 0; i < 4; ++i) sum += K[i] / std::pow(double(n), i / 2.0);
  return sum;
}

/// G consecutive columns x0 .. x0+G-1 of outer_prob_inside's recurrence in one sweep over y:
/// the cells of one column form a chain of dependent multiply-adds, so G interleaved columns
/// run G chains at once (each cell's arithmetic is unchanged, so are the results). prev holds
/// column x0-1 (zero outside [plo, phi]); cur receives column x0+G-1 on [lo[0], hi[G-1]].
template <int G>
void sweep_columns(int64_t x0, const int64_t* lo, const int64_t* hi, const double* inv,
                   const std::vector<double>& prev, int64_t plo, int64_t phi,
                   std::vector<double>& cur) {
  double below[G] = {};
  for (int64_t y = lo[0]; y <= hi[G - 1]; ++y) {
    double left = (y >= plo && y <= phi) ? prev[size_t(y)] : 0.0;
    for (int c = 0; c < G; ++c) {
      const bool in = y >= lo[c] && y <= hi[c];
      const double v =
          in ? (double(x0 + c) * left + double(y) * below[c]) * inv[size_t(x0 + c + y)] : 0.0;
      below[c] = v;
      left = v;
    }
    cur[size_t(y)] = left;
  }
}

/// P(inside) path count of ks_2samp's exact two-sided test for m != n: the probability that a
/// random lattice path from (0,0) to (m,n) stays strictly inside |ng x - mg y| < h, by the
/// recurrence P(x,y) = (x P(x-1,y) + y P(x,y-1)) / (x+y) on A(x,y) / binom(x+y, x).
double outer_prob_inside(int64_t m, int64_t n, int64_t g, int64_t h) {
  if (m < n) std::swap(m, n);
  const int64_t mg = m / g, ng = n / g;
  auto floor_div = [](int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); };
  auto ceil_div = [&](int64_t a, int64_t b) { return -floor_div(-a, b); };
  std::vector<double> prev(size_t(n) + 1, 0.0), cur(size_t(n) + 1, 0.0);
  // Reciprocals instead of a division per cell (the loop is O(m * band)); the extra rounding
  // (1 ulp per step) stays far below the 1e-6 the p-value is held to.
  std::vector<double> inv(size_t(m + n) + 1, 0.0);
  for (int64_t k = 1; k <= m + n; ++k) inv[size_t(k)] = 1.0 / double(k);
  // Column x = 0: P(0, y) = 1 while mg y < h.
  int64_t plo = 0, phi = std::min<int64_t>(n, floor_div(h - 1, mg));
  for (int64_t y = plo; y <= phi; ++y) prev[size_t(y)] = 1.0;
  constexpr int kG = 4;
  for (int64_t x = 1; x <= m;) {
    const int g = int(std::min<int64_t>(kG, m - x + 1));
    int64_t lo[kG], hi[kG];
    for (int c = 0; c < g; ++c) {
      lo[c] = std::max<int64_t>(0, ceil_div(ng * (x + c) - h + 1, mg));
      hi[c] = std::min<int64_t>(n, floor_div(ng * (x + c) + h - 1, mg));
      if (hi[c] < lo[c]) return 0.0;
    }
    switch (g) {
      case 4:
        sweep_columns<4>(x, lo, hi, inv.data(), prev, plo, phi, cur);
        break;
      case 3:
        sweep_columns<3>(x, lo, hi, inv.data(), prev, plo, phi, cur);
        break;
      case 2:
        sweep_columns<2>(x, lo, hi, inv.data(), prev, plo, phi, cur);
        break;
      default:
        sweep_columns<1>(x, lo, hi, inv.data(), prev, plo, phi, cur);
        break;
    }
    std::swap(prev, cur);
    plo = lo[g - 1];
    phi = hi[g - 1];
    x += g;
  }
  return (n >= plo && n <= phi) ? prev[size_t(n)] : 0.0;
}

double prob_outside_square(int64_t n, int64_t h) {
  double P = 0.0;
  int64_t k = n / h;
  while (k >= 0) {
    double p1 = 1.0;
    for (int64_t j = 0; j < h; ++j) p1 = double(n - k * h - j) * p1 / double(n + k * h + j + 1);
    P = p1 * (1.0 - P);
    --k;
  }
  return 2 * P;
}

double log_gamma(double x) { return std::lgamma(x); }

}  // namespace

double smirnov_sf(int64_t n, double x) {
  if (!(x > 0)) return 1.0;
  if (x >= 1.0) return 0.0;
  // P(D+_n >= x) = x sum_{j=0}^{floor(n(1-x))} C(n,j) (1-x-j/n)^(n-j) (x+j/n)^(j-1)
  const double nd = double(n);
  const int64_t jmax = static_cast<int64_t>(std::floor(nd * (1.0 - x)));
  const double lgn = log_gamma(nd + 1);
  double sum = 0.0, best = -std::numeric_limits<double>::infinity();
  for (int64_t j = 0; j <= jmax; ++j) {
    const double a = (double(n - j) - nd * x) / nd;  // 1 - x - j/n
    if (!(a > 0)) continue;
    const double b = x + double(j) / nd;
    const double lt = lgn - log_gamma(double(j) + 1) - log_gamma(double(n - j) + 1) +
                      double(n - j) * std::log(a) + double(j - 1) * std::log(b);
    const double t = std::exp(lt);
    sum += t;
    if (lt > best) {
      best = lt;
    } else if (t < 1e-18 * sum) {
      break;  // the terms are unimodal in j: the rest cannot matter
    }
  }
  return clip01(x * sum);
}

double kolmogorov_sf(int64_t n, double x) {
  RF_CHECK(n > 0, "kolmogorov_sf: n = {}", n);
  if (x >= 1.0) return 0.0;
  if (x <= 0.0) return 1.0;
  const double nd = double(n);
  const double t = nd * x;
  if (t <= 1.0) {
    if (t <= 0.5) return 1.0;
    double prob;
    if (n <= 140) {
      prob = 1.0;
      for (int64_t i = 1; i <= n; ++i) prob *= double(i) * (1.0 / nd) * (2 * t - 1);
    } else {
      prob = std::exp(log_nfactorial_div_n_pow_n(nd) + nd * std::log(2 * t - 1));
    }
    return clip01(1.0 - prob);
  }
  if (t >= nd - 1) return clip01(2 * std::pow(1.0 - x, nd));
  if (x >= 0.5) return clip01(2 * smirnov_sf(n, x));
  const double nxsq = t * x;
  if (n <= 140) {
    if (nxsq <= 0.754693) return clip01(1.0 - kolmogn_dmtw(n, x));
    if (nxsq <= 4) return clip01(1.0 - kolmogn_pomeranz(n, x));
    return clip01(2 * smirnov_sf(n, x));
  }
  if (nxsq >= 370.0) return 0.0;
  if (nxsq >= 2.2) return clip01(2 * smirnov_sf(n, x));
  double cdf;
  if (nxsq >= 18.0) {
    cdf = 1.0;
  } else if (n <= 100000 && nd * std::pow(x, 1.5) <= 1.4) {
    cdf = kolmogn_dmtw(n, x);
  } else {
    cdf = kolmogn_pelz_good(n, x);
  }
  return clip01(1.0 - cdf);
}

KsResult ks_2samp(std::vector<double> a, std::vector<double> b) {
  RF_CHECK_INPUT(!a.empty() && !b.empty(), "ks_2samp: both samples need at least one value");
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  const int64_t n1 = int64_t(a.size()), n2 = int64_t(b.size());
  // max |F_a - F_b| over the pooled values, with F as counts / n (as scipy's searchsorted).
  double d = 0.0;
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    double v;
    if (j >= b.size() || (i < a.size() && a[i] <= b[j]))
      v = a[i];
    else
      v = b[j];
    while (i < a.size() && a[i] <= v) ++i;
    while (j < b.size() && b[j] <= v) ++j;
    const double diff = double(i) / double(n1) - double(j) / double(n2);
    d = std::max(d, std::fabs(diff));
  }
  KsResult r;
  r.statistic = std::min(d, 1.0);
  const int64_t g = std::gcd(n1, n2);
  if (std::max(n1, n2) <= 10000) {
    const int64_t lcm = (n1 / g) * n2;
    const int64_t h = static_cast<int64_t>(std::nearbyint(r.statistic * double(lcm)));
    const double dd = double(h) / double(lcm);
    double prob;
    if (h == 0) {
      prob = 1.0;
    } else if (n1 == n2) {
      prob = prob_outside_square(n1, h);
    } else {
      prob = 1.0 - outer_prob_inside(n1, n2, g, h);
    }
    if (prob >= 0 && prob <= 1) {
      r.statistic = dd;
      r.p_value = prob;
      r.exact = true;
      return r;
    }
  }
  const double m = double(std::max(n1, n2)), n = double(std::min(n1, n2));
  const double en = m * n / (m + n);
  r.p_value = clip01(kolmogorov_sf(static_cast<int64_t>(std::nearbyint(en)), r.statistic));
  r.exact = false;
  return r;
}

double wasserstein_1d(std::vector<double> a, std::vector<double> b) {
  RF_CHECK_INPUT(!a.empty() && !b.empty(), "wasserstein_1d: both samples need at least one value");
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  std::vector<double> all;
  all.reserve(a.size() + b.size());
  std::merge(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(all));
  double total = 0.0;
  size_t i = 0, j = 0;
  for (size_t k = 0; k + 1 < all.size(); ++k) {
    const double v = all[k];
    while (i < a.size() && a[i] <= v) ++i;
    while (j < b.size() && b[j] <= v) ++j;
    const double fa = double(i) / double(a.size()), fb = double(j) / double(b.size());
    total += std::fabs(fa - fb) * (all[k + 1] - v);
  }
  return total;
}

double gamma_q(double a, double x) {
  RF_CHECK(a > 0 && x >= 0, "gamma_q: a = {}, x = {}", a, x);
  if (x == 0) return 1.0;
  const double lpre = -x + a * std::log(x) - std::lgamma(a);
  constexpr double kEps = 1e-16;
  if (x < a + 1) {
    // Series for P(a, x); Q = 1 - P is not small here.
    double ap = a, del = 1.0 / a, sum = del;
    for (int it = 0; it < 100000; ++it) {
      ap += 1;
      del *= x / ap;
      sum += del;
      if (std::fabs(del) < std::fabs(sum) * kEps) break;
    }
    return clip01(1.0 - sum * std::exp(lpre));
  }
  // Continued fraction for Q(a, x) (modified Lentz).
  constexpr double kTiny = 1e-300;
  double b = x + 1 - a, c = 1 / kTiny, d = 1 / b, h = d;
  for (int i = 1; i < 100000; ++i) {
    const double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = b + an / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1 / d;
    const double del = d * c;
    h *= del;
    if (std::fabs(del - 1) < kEps) break;
  }
  return clip01(std::exp(lpre) * h);
}

double chi2_sf(double x, double dof) {
  if (!(x > 0)) return 1.0;
  return gamma_q(dof / 2, x / 2);
}

Chi2Result chi2_contingency(const std::vector<double>& counts, int rows, int cols) {
  RF_CHECK(rows >= 1 && cols >= 1 && counts.size() == size_t(rows) * size_t(cols),
           "chi2_contingency: bad shape");
  std::vector<int> keep;
  std::vector<double> rsum(size_t(rows), 0.0);
  for (int c = 0; c < cols; ++c) {
    double s = 0;
    for (int r = 0; r < rows; ++r) s += counts[size_t(r) * cols + c];
    if (s > 0) keep.push_back(c);
  }
  std::vector<double> csum(keep.size(), 0.0);
  double total = 0;
  for (size_t k = 0; k < keep.size(); ++k)
    for (int r = 0; r < rows; ++r) {
      const double v = counts[size_t(r) * cols + keep[k]];
      csum[k] += v;
      rsum[size_t(r)] += v;
      total += v;
    }
  int nz_rows = 0;
  for (double s : rsum) nz_rows += s > 0;
  Chi2Result res;
  res.dof = (nz_rows - 1) * (int(keep.size()) - 1);
  if (total <= 0 || res.dof <= 0) {
    res.dof = std::max(res.dof, 0);
    return res;  // statistic 0, p 1 (scipy: dof == 0)
  }
  double stat = 0;
  for (int r = 0; r < rows; ++r) {
    if (rsum[size_t(r)] <= 0) continue;
    for (size_t k = 0; k < keep.size(); ++k) {
      const double e = rsum[size_t(r)] * csum[k] / total;
      double o = counts[size_t(r) * cols + keep[k]];
      if (res.dof == 1) {  // Yates' correction
        const double diff = e - o;
        const double corr = std::min(0.5, std::fabs(diff));
        o += (diff > 0 ? corr : (diff < 0 ? -corr : 0.0));
      }
      stat += (o - e) * (o - e) / e;
    }
  }
  res.statistic = stat;
  res.p_value = chi2_sf(stat, res.dof);
  return res;
}

}  // namespace rareforge::validation
