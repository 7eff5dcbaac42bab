#include "classical/kmeans.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "classical/over_util.h"
#include "core/error.h"

namespace rareforge::classical {

namespace {

constexpr size_t kBlock = 16384;

/// Squared distance with four partial sums (independent add chains: about four times faster
/// than one running sum for d around 20). Every distance in this file uses it or scan_all's
/// equivalent order, so results do not depend on which path computed them.
inline double sqd(const double* a, const double* b, size_t d) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t j = 0;
  for (; j + 4 <= d; j += 4) {
    const double t0 = a[j] - b[j], t1 = a[j + 1] - b[j + 1];
    const double t2 = a[j + 2] - b[j + 2], t3 = a[j + 3] - b[j + 3];
    s0 += t0 * t0;
    s1 += t1 * t1;
    s2 += t2 * t2;
    s3 += t3 * t3;
  }
  for (; j < d; ++j) {
    const double t = a[j] - b[j];
    s0 += t * t;
  }
  return (s0 + s1) + (s2 + s3);
}

size_t n_blocks(size_t n) { return (n + kBlock - 1) / kBlock; }

/// Sum of v over [0, n), block by block in order (deterministic).
double ordered_sum(const std::vector<double>& partial) {
  double s = 0;
  for (double v : partial) s += v;
  return s;
}

}  // namespace

KMeansResult kmeans(knn::View x, const KMeansOptions& opt, Rng& rng) {
  const size_t n = x.rows, d = x.cols;
  RF_CHECK(n >= 1, "kmeans: no rows");
  RF_CHECK(opt.n_clusters >= 1, "kmeans: n_clusters must be >= 1");
  Context ctx;
  ctx.threads = opt.threads;
  const int threads = ctx.n_threads();
  const size_t K = std::min(opt.n_clusters, n);
  const size_t nb = n_blocks(n);

  // --- greedy k-means++ seeding ---
  std::vector<double> centers;  // row-major, grows
  std::vector<double> closest(n);
  std::vector<double> part(nb);
  const size_t seed_row = static_cast<size_t>(rng.uniform_int(n));
  centers.insert(centers.end(), x.row(seed_row), x.row(seed_row) + d);
  over::parallel_for(nb, threads, [&](size_t b) {
    double s = 0;
    for (size_t i = b * kBlock; i < std::min(n, (b + 1) * kBlock); ++i) {
      closest[i] = sqd(x.row(i), x.row(seed_row), d);
      s += closest[i];
    }
    part[b] = s;
  });
  double pot = ordered_sum(part);
  const size_t trials = 2 + static_cast<size_t>(std::log(static_cast<double>(K)));
  std::vector<double> cand_pot(trials);
  std::vector<size_t> cand(trials);
  std::vector<std::vector<double>> cand_part(trials, std::vector<double>(nb));
  while (centers.size() / d < K && pot > 0) {
    for (size_t t = 0; t < trials; ++t) {
      // Draw proportional to `closest` by a sequential scan (deterministic).
      const double u = rng.uniform() * pot;
      double acc = 0;
      size_t pick = n - 1;
      for (size_t i = 0; i < n; ++i) {
        acc += closest[i];
        if (acc > u && closest[i] > 0) {
          pick = i;
          break;
        }
      }
      while (closest[pick] == 0 && pick > 0) --pick;
      cand[t] = pick;
    }
    over::parallel_for(nb, threads, [&](size_t b) {
      for (size_t t = 0; t < trials; ++t) {
        double s = 0;
        const double* c = x.row(cand[t]);
        for (size_t i = b * kBlock; i < std::min(n, (b + 1) * kBlock); ++i)
          s += std::min(closest[i], sqd(x.row(i), c, d));
        cand_part[t][b] = s;
      }
    });
    size_t best = 0;
    for (size_t t = 0; t < trials; ++t) {
      cand_pot[t] = ordered_sum(cand_part[t]);
      if (cand_pot[t] < cand_pot[best]) best = t;
    }
    const double* c = x.row(cand[best]);
    centers.insert(centers.end(), c, c + d);
    over::parallel_for(nb, threads, [&](size_t b) {
      double s = 0;
      for (size_t i = b * kBlock; i < std::min(n, (b + 1) * kBlock); ++i) {
        closest[i] = std::min(closest[i], sqd(x.row(i), c, d));
        s += closest[i];
      }
      part[b] = s;
    });
    pot = ordered_sum(part);
  }
  const size_t k = centers.size() / d;

  // --- Lloyd iterations ---
  double tol_abs = 0;
  {
    std::vector<double> mean(d, 0), var(d, 0);
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < d; ++j) mean[j] += x.row(i)[j];
    for (size_t j = 0; j < d; ++j) mean[j] /= static_cast<double>(n);
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < d; ++j) var[j] += (x.row(i)[j] - mean[j]) * (x.row(i)[j] - mean[j]);
    double mv = 0;
    for (size_t j = 0; j < d; ++j) mv += var[j] / static_cast<double>(n);
    tol_abs = d > 0 ? opt.tol * mv / static_cast<double>(d) : 0;
  }
  KMeansResult res;
  res.labels.assign(n, -1);
  // Lloyd's iterations with Hamerly's bounds (Hamerly 2010, "Making k-means even faster"): per
  // row an upper bound u on the distance to its centre and a lower bound l on the distance to
  // any other centre. A row whose u is clearly below max(l, half the distance from its centre
  // to the nearest other centre) cannot change cluster and is skipped; the others are compared
  // with every centre as plain Lloyd would (ties to the lower index). The skip test keeps a
  // relative margin of 1e-9 so rounding in the bounds never skips a row that plain Lloyd would
  // move. Cluster sums are updated incrementally, so centres can differ from a plain Lloyd's in
  // the last bits.
  std::vector<double> upper(n), lower(n);
  std::vector<double> sums(nb * k * d, 0.0);
  std::vector<int64_t> counts(nb * k, 0);
  std::vector<uint8_t> changed(nb);
  std::vector<double> half(k), moved(k);
  const auto centre = [&](size_t c) { return centers.data() + c * d; };
  // Distances from row i to every centre at once (centres transposed, d x k: the k sums are
  // independent and vectorise), each summed in sqd's order.
  std::vector<double> centers_t(d * k);
  const auto transpose = [&]() {
    for (size_t c = 0; c < k; ++c)
      for (size_t j = 0; j < d; ++j) centers_t[j * k + c] = centers[c * d + j];
  };
  const auto scan = [&](size_t i, double* acc) {
    const double* xi = x.row(i);
    double* a4 = acc;  // 4 x k partial sums
    std::fill(a4, a4 + 4 * k, 0.0);
    size_t j = 0;
    for (; j + 4 <= d; j += 4)
      for (size_t r = 0; r < 4; ++r) {
        const double xj = xi[j + r];
        const double* ct = centers_t.data() + (j + r) * k;
        double* ar = a4 + r * k;
        for (size_t c = 0; c < k; ++c) {
          const double t = xj - ct[c];
          ar[c] += t * t;
        }
      }
    for (; j < d; ++j) {
      const double xj = xi[j];
      const double* ct = centers_t.data() + j * k;
      for (size_t c = 0; c < k; ++c) {
        const double t = xj - ct[c];
        a4[c] += t * t;
      }
    }
    size_t best = 0;
    double b1 = std::numeric_limits<double>::infinity(), b2 = b1;
    for (size_t c = 0; c < k; ++c) {
      const double dd = (a4[c] + a4[k + c]) + (a4[2 * k + c] + a4[3 * k + c]);
      if (dd < b1) {
        b2 = b1;
        b1 = dd;
        best = c;
      } else if (dd < b2) {
        b2 = dd;
      }
    }
    upper[i] = std::sqrt(b1);
    lower[i] = std::sqrt(b2);
    return static_cast<int32_t>(best);
  };
  // E-step with bounds. Each block of rows keeps the sums and counts of its rows per cluster
  // for the M-step, updated only for rows that move (deterministic: blocks are fixed and each is
  // updated in row order). Returns true if a label changed.
  const auto assign = [&](bool first) {
    if (!first) {
      for (size_t c = 0; c < k; ++c) {
        double m = std::numeric_limits<double>::infinity();
        for (size_t c2 = 0; c2 < k; ++c2)
          if (c2 != c) m = std::min(m, std::sqrt(sqd(centre(c), centre(c2), d)));
        half[c] = 0.5 * m;
      }
    }
    transpose();
    over::parallel_for(nb, threads, [&](size_t b) {
      double* sb = sums.data() + b * k * d;
      int64_t* cb = counts.data() + b * k;
      std::vector<double> acc(4 * k);
      bool ch = false;
      for (size_t i = b * kBlock; i < std::min(n, (b + 1) * kBlock); ++i) {
        const double* xi = x.row(i);
        if (first) {
          const int32_t a = scan(i, acc.data());
          res.labels[i] = a;
          ++cb[a];
          for (size_t j = 0; j < d; ++j) sb[a * d + j] += xi[j];
          ch = true;
          continue;
        }
        const int32_t old = res.labels[i];
        const double bound = std::max(half[old], lower[i]);
        if (upper[i] * (1 + 1e-9) < bound) continue;
        upper[i] = std::sqrt(sqd(xi, centre(old), d));
        if (upper[i] * (1 + 1e-9) < bound) continue;
        const int32_t a = scan(i, acc.data());
        if (a == old) continue;
        res.labels[i] = a;
        --cb[old];
        ++cb[a];
        for (size_t j = 0; j < d; ++j) {
          sb[old * d + j] -= xi[j];
          sb[a * d + j] += xi[j];
        }
        ch = true;
      }
      changed[b] = ch;
    });
    bool any = false;
    for (uint8_t c : changed) any = any || c;
    return any;
  };
  // M-step: centres to the means; bounds follow the moves. Returns the summed squared shift.
  const auto update = [&]() {
    double shift = 0;
    std::vector<double> sum(d);
    for (size_t c = 0; c < k; ++c) {
      int64_t cnt = 0;
      std::fill(sum.begin(), sum.end(), 0.0);
      for (size_t b = 0; b < nb; ++b) {
        cnt += counts[b * k + c];
        for (size_t j = 0; j < d; ++j) sum[j] += sums[(b * k + c) * d + j];
      }
      double s2 = 0;
      if (cnt > 0) {
        for (size_t j = 0; j < d; ++j) {
          const double v = sum[j] / static_cast<double>(cnt);
          s2 += (v - centers[c * d + j]) * (v - centers[c * d + j]);
          centers[c * d + j] = v;
        }
      }
      moved[c] = std::sqrt(s2);
      shift += s2;
    }
    size_t top = 0;
    for (size_t c = 1; c < k; ++c)
      if (moved[c] > moved[top]) top = c;
    double second = 0;
    for (size_t c = 0; c < k; ++c)
      if (c != top) second = std::max(second, moved[c]);
    over::parallel_for(nb, threads, [&](size_t b) {
      for (size_t i = b * kBlock; i < std::min(n, (b + 1) * kBlock); ++i) {
        const size_t a = static_cast<size_t>(res.labels[i]);
        upper[i] += moved[a];
        lower[i] -= a == top ? second : moved[top];
      }
    });
    return shift;
  };
  size_t it = 0;
  bool first = true;
  while (it < opt.max_iter) {
    const bool any = assign(first);
    first = false;
    if (!any && it > 0) break;
    ++it;
    const double shift = update();
    if (shift <= tol_abs) break;
  }
  // Final labels for the final centres, and the inertia.
  assign(false);
  std::vector<double> part_in(nb);
  over::parallel_for(nb, threads, [&](size_t b) {
    double in = 0;
    for (size_t i = b * kBlock; i < std::min(n, (b + 1) * kBlock); ++i)
      in += sqd(x.row(i), centre(static_cast<size_t>(res.labels[i])), d);
    part_in[b] = in;
  });
  res.inertia = ordered_sum(part_in);
  res.iterations = it;
  res.centers = MatrixRM(static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(d));
  std::copy(centers.begin(), centers.end(), res.centers.data());
  return res;
}

}  // namespace rareforge::classical
