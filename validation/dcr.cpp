#include "validation/dcr.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <thread>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "core/error.h"

namespace rareforge::validation {
namespace {

constexpr size_t kQ = 4;       // queries per block
constexpr size_t kLanes = 16;  // reference rows per panel (one float register)
constexpr double kMissing = 1e300;
constexpr float kMissingF = 1e30f;  // missing in the float screen: |1e30 - 1e30| = 0, else 1

typedef float v16f __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));

__attribute__((always_inline)) inline v16f load16(const float* p) {
  v16f v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

/// The exact distance (sum of per-column terms, not yet divided by d) in double, column by
/// column in order: the value dcr_nearest reports.
double exact_sum(const double* q, const double* r, size_t d) {
  double s = 0;
  for (size_t j = 0; j < d; ++j) s += std::min(std::fabs(q[j] - r[j]), 1.0);
  return s;
}

/// One block of kQ queries: Qf their float screen values (row-major, d columns), Q and R the
/// double rows. thr[r] is the float screen's threshold of query r: every reference row whose
/// exact sum is <= best[r] has a float sum <= thr[r]. Lanes that pass are re-checked in double,
/// in index order, so ties go to the smaller index. Float sums never exceed d (each term is
/// capped at 1, NaN included), so where values are too large for the float screen the slack
/// exceeds d and every lane is re-checked: slow, still exact.
struct Block {
  const float* Qf;
  const double* Q;
  const double* R;
  size_t d, n_ref;
  double slack;  // bound on |float sum - double sum|
  double best[kQ];
  int64_t bidx[kQ];
  float thr[kQ];

  void set_threshold(size_t r) {
    const double t = best[r] + slack;
    float f = static_cast<float>(t);
    if (static_cast<double>(f) < t) f = std::nextafter(f, std::numeric_limits<float>::infinity());
    thr[r] = f;
  }
};

/// Re-check the lanes of panel p that passed query r's screen (bit l of pass = lane l).
inline void recheck(Block& b, size_t r, size_t p, uint32_t pass) {
  for (; pass; pass &= pass - 1) {
    const size_t idx = p * kLanes + size_t(__builtin_ctz(pass));
    if (idx >= b.n_ref) break;
    const double e = exact_sum(b.Q + r * b.d, b.R + idx * b.d, b.d);
    if (e < b.best[r]) {
      b.best[r] = e;
      b.bidx[r] = int64_t(idx);
      b.set_threshold(r);
    }
  }
}

// The screen sums every column of every pair: abandoning a panel early (partial sums only
// grow) costs more in data-dependent branches and lane reductions than it saves on 20-column
// data (measured: 7.8 s without, 11-20 s with checks every 4-12 columns, 100k x 100k).

#if defined(__x86_64__)
#pragma GCC diagnostic push
// GCC 12 warns about the undefined pass-through operand inside _mm512_min_ps itself.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
__attribute__((target("avx512f"))) void scan_avx512(Block& b, const float* panels,
                                                    size_t n_panels) {
  const size_t d = b.d;
  const __m512 one = _mm512_set1_ps(1.0f);
  for (size_t p = 0; p < n_panels; ++p) {
    const float* bp = panels + p * kLanes * d;
    __m512 c[kQ];
    for (size_t r = 0; r < kQ; ++r) c[r] = _mm512_setzero_ps();
    for (size_t j = 0; j < d; ++j) {
      const __m512 x = _mm512_loadu_ps(bp + j * kLanes);
      for (size_t r = 0; r < kQ; ++r) {
        const __m512 v = _mm512_abs_ps(_mm512_sub_ps(x, _mm512_set1_ps(b.Qf[r * d + j])));
        c[r] = _mm512_add_ps(c[r], _mm512_min_ps(v, one));
      }
    }
    for (size_t r = 0; r < kQ; ++r) {
      const uint32_t pass = _mm512_cmp_ps_mask(c[r], _mm512_set1_ps(b.thr[r]), _CMP_LE_OQ);
      if (pass) recheck(b, r, p, pass);
    }
  }
}
#pragma GCC diagnostic pop
#endif

/// Portable version (GCC vector extensions; AVX2 or baseline SSE2 code).
__attribute__((target_clones("avx2", "default"))) void scan_generic(Block& b, const float* panels,
                                                                    size_t n_panels) {
  const size_t d = b.d;
  const v16f zero = {0}, one = zero + 1.0f;
  const v16i abs_mask = (v16i){0} + 0x7fffffff;
  for (size_t p = 0; p < n_panels; ++p) {
    const float* bp = panels + p * kLanes * d;
    v16f c[kQ];
    for (size_t r = 0; r < kQ; ++r) c[r] = zero;
    for (size_t j = 0; j < d; ++j) {
      const v16f x = load16(bp + j * kLanes);
      for (size_t r = 0; r < kQ; ++r) {
        const v16f v = (v16f)((v16i)(x - b.Qf[r * d + j]) & abs_mask);
        c[r] += v < one ? v : one;
      }
    }
    for (size_t r = 0; r < kQ; ++r) {
      const v16i le = (v16i)(c[r] <= b.thr[r]);
      uint32_t pass = 0;
      for (size_t l = 0; l < kLanes; ++l) pass |= uint32_t(le[l] != 0) << l;
      if (pass) recheck(b, r, p, pass);
    }
  }
}

std::atomic<bool>& portable_only() {
  static std::atomic<bool> flag{false};
  return flag;
}

void scan_panels(Block& b, const float* panels, size_t n_panels) {
#if defined(__x86_64__)
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  if (avx512 && !portable_only().load(std::memory_order_relaxed))
    return scan_avx512(b, panels, n_panels);
#endif
  scan_generic(b, panels, n_panels);
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

namespace detail {
bool dcr_force_portable(bool on) { return portable_only().exchange(on); }
}  // namespace detail

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
  // Float screen values: each column shifted by the centre of its finite values (both tables),
  // so the float rounding error scales with the column's spread, not its magnitude.
  std::vector<double> lo(d, std::numeric_limits<double>::infinity()), hi(d, -lo[0]);
  for (const MatrixRM* m : {&reference, &queries})
    for (Eigen::Index i = 0; i < m->rows(); ++i)
      for (size_t j = 0; j < d; ++j) {
        const double v = (*m)(i, Eigen::Index(j));
        if (v >= kMissing) continue;
        lo[j] = std::min(lo[j], v);
        hi[j] = std::max(hi[j], v);
      }
  std::vector<double> centre(d, 0.0);
  // Error bound. With u = 2^-24, a float screen term differs from the double term by at most
  // 2.0001 u (|a'| + |b'|) <= 4.0002 u M_j (a' = a - centre_j, |a'| <= M_j; min(., 1) and |.|
  // are 1-Lipschitz), plus the double shift's rounding (2^-52 (|a| + |centre|)); missing
  // values give the exact terms 0 or 1 in both. Summing d terms in [0, 1] adds at most
  // gamma_d d in float and in double. best + slack then bounds the float sum of any row whose
  // double sum is <= best.
  const double u = std::ldexp(1.0, -24), ud = std::ldexp(1.0, -53);
  double slack = 0;
  for (size_t j = 0; j < d; ++j) {
    if (!(lo[j] <= hi[j])) continue;  // every value missing
    centre[j] = 0.5 * (lo[j] + hi[j]);
    const double m = std::max(hi[j] - centre[j], centre[j] - lo[j]);
    const double mag = std::max(std::fabs(lo[j]), std::fabs(hi[j]));
    slack += 4.0002 * u * m + 4.0 * ud * (mag + std::fabs(centre[j]));
  }
  const double dd = double(d);
  slack += dd * dd * (u / (1 - dd * u) + ud / (1 - dd * ud));
  slack = slack * 1.01 + 1e-300;
  auto to_float = [&](double v, size_t j) {
    return v >= kMissing ? kMissingF : static_cast<float>(v - centre[j]);
  };

  const size_t n_panels = (n_ref + kLanes - 1) / kLanes;
  std::vector<float> panels(n_panels * kLanes * d, kMissingF);  // padding: never re-checked
  const double* R = reference.data();
  for (size_t i = 0; i < n_ref; ++i)
    for (size_t j = 0; j < d; ++j)
      panels[(i / kLanes) * kLanes * d + j * kLanes + i % kLanes] = to_float(R[i * d + j], j);
  const size_t n_blocks = (nq + kQ - 1) / kQ;
  std::atomic<size_t> next{0};
  constexpr size_t kGrab = 8;  // blocks per grab
  auto work = [&] {
    std::vector<float> qf(kQ * d);
    std::vector<double> q(kQ * d);
    Block b;
    b.Qf = qf.data();
    b.Q = q.data();
    b.R = R;
    b.d = d;
    b.n_ref = n_ref;
    b.slack = slack;
    for (;;) {
      const size_t b0 = next.fetch_add(kGrab);
      if (b0 >= n_blocks) break;
      for (size_t blk = b0; blk < std::min(n_blocks, b0 + kGrab); ++blk) {
        const size_t r0 = blk * kQ, r1 = std::min(nq, r0 + kQ);
        std::fill(q.begin(), q.end(), 0.0);
        std::memcpy(q.data(), queries.data() + r0 * d, (r1 - r0) * d * sizeof(double));
        for (size_t r = 0; r < kQ; ++r) {
          for (size_t j = 0; j < d; ++j) qf[r * d + j] = to_float(q[r * d + j], j);
          b.best[r] = std::numeric_limits<double>::infinity();
          b.bidx[r] = -1;
          b.thr[r] = std::numeric_limits<float>::infinity();
        }
        scan_panels(b, panels.data(), n_panels);
        for (size_t r = r0; r < r1; ++r) {
          out.distance[r] = b.best[r - r0] / dd;
          out.index[r] = b.bidx[r - r0];
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
