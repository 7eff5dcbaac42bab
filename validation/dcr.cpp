#include "validation/dcr.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <thread>

#include "core/error.h"

namespace rareforge::validation {
namespace {

constexpr size_t kQ = 4;      // queries per block
constexpr size_t kLanes = 8;  // reference rows per panel
constexpr size_t kChunk = 4;  // columns between two pruning checks
constexpr double kMissing = 1e300;

typedef double v8d __attribute__((vector_size(64)));

__attribute__((always_inline)) inline v8d load8(const double* p) {
  v8d v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

/// Nearest rows for the kQ queries Q (row-major, d columns) over all panels (8-wide GCC vector
/// extensions; see mmd.cpp). best/bidx are updated in place (best = sum of per-column
/// distances, not yet divided by d).
__attribute__((target_clones("avx512f", "avx2", "default"))) void scan_panels(
    const double* Q, size_t d, const double* panels, size_t n_ref, double* best, int64_t* bidx) {
  static_assert(kQ == 4 && kLanes == 8, "the kernel is written for 4 x 8");
  const size_t n_panels = (n_ref + kLanes - 1) / kLanes;
  const v8d zero = {0}, one = zero + 1.0;
  for (size_t p = 0; p < n_panels; ++p) {
    const double* bp = panels + p * kLanes * d;
    v8d c[kQ] = {zero, zero, zero, zero};
    bool pruned = false;
    for (size_t j0 = 0; j0 < d; j0 += kChunk) {
      const size_t j1 = std::min(d, j0 + kChunk);
      for (size_t j = j0; j < j1; ++j) {
        const v8d b = load8(bp + j * kLanes);
        for (size_t r = 0; r < kQ; ++r) {
          v8d v = b - Q[r * d + j];
          v = v < zero ? -v : v;
          c[r] += v < one ? v : one;
        }
      }
      if (j1 < d) {
        // Abandon the panel when every pair's partial sum already exceeds its query's best.
        v8d slack = best[0] - c[0];
        for (size_t r = 1; r < kQ; ++r) {
          const v8d s = best[r] - c[r];
          slack = s > slack ? s : slack;
        }
        double mx = slack[0];
        for (size_t l = 1; l < kLanes; ++l) mx = slack[l] > mx ? slack[l] : mx;
        if (mx < 0) {
          pruned = true;
          break;
        }
      }
    }
    if (pruned) continue;
    for (size_t r = 0; r < kQ; ++r)
      for (size_t l = 0; l < kLanes; ++l) {
        const size_t idx = p * kLanes + l;
        if (idx < n_ref && c[r][l] < best[r]) {
          best[r] = c[r][l];
          bidx[r] = int64_t(idx);
        }
      }
  }
}

double cell_distance(const Column& a, size_t i, const Column& b, size_t k, double lo,
                     double range) {
  const bool ma = a.is_missing(i), mb = b.is_missing(k);
  if (ma && mb) return 0.0;
  if (ma || mb) return 1.0;
  if (a.is_categorical()) return a.codes[i] == b.codes[k] ? 0.0 : 1.0;
  const double diff = std::fabs(a.num[i] - b.num[k]);
  if (range == 0) return diff == 0 ? 0.0 : 1.0;
  return std::min(diff / range, 1.0);
}

}  // namespace

DcrScale dcr_scale(const Table& real) {
  DcrScale s;
  s.columns = real.feature_indices();
  for (size_t c : s.columns) {
    const Column& col = real.column(c);
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    if (col.is_numeric())
      for (double v : col.num)
        if (!std::isnan(v)) {
          lo = std::min(lo, v);
          hi = std::max(hi, v);
        }
    if (!(lo <= hi)) lo = hi = 0;
    s.lo.push_back(lo);
    s.range.push_back(hi - lo);
  }
  return s;
}

MatrixRM dcr_encode(const Table& t, const DcrScale& scale) {
  const size_t n = t.n_rows(), d = scale.columns.size();
  MatrixRM m(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(d));
  for (size_t k = 0; k < d; ++k) {
    const Column& col = t.column(scale.columns[k]);
    const double lo = scale.lo[k], range = scale.range[k];
    for (size_t i = 0; i < n; ++i) {
      double v;
      if (col.is_missing(i)) {
        v = kMissing;
      } else if (col.is_categorical()) {
        v = double(col.codes[i]);
      } else if (range == 0) {
        v = col.num[i] == lo ? 0.0 : 2.0;
      } else {
        v = col.num[i] / range;
      }
      m(Eigen::Index(i), Eigen::Index(k)) = v;
    }
  }
  return m;
}

DcrNearest dcr_nearest(const MatrixRM& reference, const MatrixRM& queries, int threads) {
  RF_CHECK_INPUT(reference.rows() >= 1, "dcr: the reference table has no rows");
  RF_CHECK_INPUT(reference.cols() == queries.cols(), "dcr: {} and {} columns differ",
                 reference.cols(), queries.cols());
  const size_t n_ref = size_t(reference.rows()), nq = size_t(queries.rows());
  const size_t d = size_t(reference.cols());
  DcrNearest out;
  out.distance.assign(nq, 0.0);
  out.index.assign(nq, -1);
  if (nq == 0) return out;
  if (d == 0) {
    std::fill(out.index.begin(), out.index.end(), 0);
    return out;
  }
  const size_t n_panels = (n_ref + kLanes - 1) / kLanes;
  std::vector<double> panels(n_panels * kLanes * d, kMissing);
  for (size_t i = 0; i < n_ref; ++i)
    for (size_t j = 0; j < d; ++j)
      panels[(i / kLanes) * kLanes * d + j * kLanes + i % kLanes] = reference.data()[i * d + j];
  const size_t n_blocks = (nq + kQ - 1) / kQ;
  std::atomic<size_t> next{0};
  constexpr size_t kGrab = 16;  // blocks per grab
  auto work = [&] {
    std::vector<double> q(kQ * d);
    for (;;) {
      const size_t b0 = next.fetch_add(kGrab);
      if (b0 >= n_blocks) break;
      for (size_t b = b0; b < std::min(n_blocks, b0 + kGrab); ++b) {
        const size_t r0 = b * kQ, r1 = std::min(nq, r0 + kQ);
        std::fill(q.begin(), q.end(), 0.0);
        std::memcpy(q.data(), queries.data() + r0 * d, (r1 - r0) * d * sizeof(double));
        double best[kQ];
        int64_t bidx[kQ];
        for (size_t r = 0; r < kQ; ++r) {
          best[r] = std::numeric_limits<double>::infinity();
          bidx[r] = -1;
        }
        scan_panels(q.data(), d, panels.data(), n_ref, best, bidx);
        for (size_t r = r0; r < r1; ++r) {
          out.distance[r] = best[r - r0] / double(d);
          out.index[r] = bidx[r - r0];
        }
      }
    }
  };
  int nt = threads > 0 ? threads : std::max(1, int(std::thread::hardware_concurrency()));
  nt = std::max(1, std::min<int>(nt, int((n_blocks + kGrab - 1) / kGrab)));
  std::vector<std::thread> pool;
  for (int i = 1; i < nt; ++i) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
  return out;
}

DcrNearest dcr_nearest_reference(const Table& reference, const Table& queries,
                                 const DcrScale& scale) {
  DcrNearest out;
  const size_t d = scale.columns.size();
  for (size_t i = 0; i < queries.n_rows(); ++i) {
    double best = std::numeric_limits<double>::infinity();
    int64_t bi = -1;
    for (size_t k = 0; k < reference.n_rows(); ++k) {
      double s = 0;
      for (size_t c = 0; c < d; ++c) {
        const size_t col = scale.columns[c];
        s += cell_distance(queries.column(col), i, reference.column(col), k, scale.lo[c],
                           scale.range[c]);
      }
      s /= double(d);
      if (s < best) {
        best = s;
        bi = int64_t(k);
      }
    }
    out.distance.push_back(best);
    out.index.push_back(bi);
  }
  return out;
}

}  // namespace rareforge::validation
