#include "validation/mmd.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <thread>
#include <vector>

#include <Eigen/Core>

#include "core/error.h"
#include "validation/accel.h"

namespace rareforge::validation {
namespace {

constexpr size_t kRows = 4;   // rows of A per micro-tile
constexpr size_t kLanes = 8;  // rows of B per micro-tile (one packed panel)

// Explicit 8-wide double vectors (GCC vector extensions): one AVX-512 register, two AVX2
// registers, four SSE2 registers in the baseline clone. The element-wise code is the same on
// every path, so results differ between clones only by FMA contraction (~1 ulp per operation).
typedef double v8d __attribute__((vector_size(64)));
typedef unsigned long long v8u __attribute__((vector_size(64)));

__attribute__((always_inline)) inline v8d load8(const double* p) {
  v8d v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

/// What the kernels need besides the data: 2^(k/8) (k = 0..7) with the exponent offset of the
/// rounding constant taken out (exp2_neg), and the polynomial of 2^r, |r| <= 1/16.
struct alignas(64) Exp2Table {
  // t = y + kRound has an ulp of 1/8, so its bits are those of kRound plus round(8 y). Those
  // bits are a multiple of 8; shifted right by 3 and left by 52 they leave `offset` (mod 2^64),
  // which the table entries have subtracted already.
  static constexpr double kRound = 844424930131968.0;  // 1.5 * 2^49
  v8u bits;
  Exp2Table() {
    unsigned long long r;
    std::memcpy(&r, &kRound, sizeof r);
    RF_CHECK(r % 8 == 0, "exp2 table: rounding constant");
    const unsigned long long offset = (r >> 3) << 52;
    for (int k = 0; k < 8; ++k) {
      const double t = std::exp2(k / 8.0);
      unsigned long long u;
      std::memcpy(&u, &t, sizeof u);
      bits[k] = u - offset;
    }
  }
};

const Exp2Table& exp2_table() {
  static const Exp2Table t;
  return t;
}

/// 2^y for -1000 <= y <= 0, lane by lane, branch-free: y = n + k/8 + r with n, k integers,
/// 0 <= k < 8, |r| <= 1/16 (r is exact); 2^(k/8) from the table, 2^r by a polynomial of degree
/// 7, 2^n added to the exponent bits. Relative error a few units of 2^-53, as std::exp.
__attribute__((always_inline)) inline v8d exp2_neg(v8d y, v8u table) {
  constexpr double kRound = Exp2Table::kRound;
  const v8d t = y + kRound;
  const v8d r = y - (t - kRound);
  // Degree-7 interpolant of 2^r at the Chebyshev nodes of [-1/16, 1/16]: relative error below
  // 1.2e-16 there, rounding included (scripts/derive_exp2_poly.py: against 80-bit exp2 on
  // 200,001 points).
  constexpr double c1 = 0.6931471805599453, c2 = 0.24022650695912057, c3 = 0.0555041086648234,
                   c4 = 0.009618129082356593, c5 = 0.001333355811788303,
                   c6 = 0.00015404563341225725, c7 = 1.5253687190008952e-05;
  v8d p = r * c7 + c6;
  p = p * r + c5;
  p = p * r + c4;
  p = p * r + c3;
  p = p * r + c2;
  p = p * r + c1;
  p = p * r + 1.0;
  const v8u bits = (v8u)t;  // same-size vector casts reinterpret the bits
  const v8u scale = __builtin_shuffle(table, bits & 7ULL) + ((bits >> 3) << 52);
  return p * (v8d)scale;
}

/// One tile's rows of A (row-major, n a multiple of kRows) and of B (packed panels, n a
/// multiple of kLanes), as tile_body reads them.
struct TileA {
  const double* rows = nullptr;   ///< times g
  const double* norms = nullptr;  ///< squared norms times L
  const double* thr = nullptr;    ///< pair (i, l) counts when B's index[l] > thr[i]
  size_t n = 0;
  const double* codes = nullptr;    ///< categorical codes, n x nc
  const double* weights = nullptr;  ///< their weights times L
};
struct TileB {
  const double* panels = nullptr;  ///< times g
  const double* norms = nullptr;   ///< squared norms times L
  const double* index = nullptr;   ///< row index (padding: -2)
  const double* gmin = nullptr;    ///< smallest index of each panel
  size_t n = 0;
  const double* codes = nullptr;    ///< categorical codes in panels (panel q, column c, lane l
  const double* weights = nullptr;  ///< at q * nc + c * kLanes + l), weights times L
};

/// Kernel sums of one tile, in units where the kernel is a power of two. With
/// L = log2(e) / (8 s^2) and g = sqrt(2 L), the rows of A (row-major, d columns) and the packed
/// panels of B (panel q holds component j of B row q * kLanes + l at
/// panels[q * kLanes * d + j * kLanes + l]) come multiplied by g and the squared norms by L, so
/// y = <g a, g b> - L |a|^2 - L |b|^2 = -L |a - b|^2 and u = 2^y = exp(-|a - b|^2 / 8 s^2).
/// Pair (i, l) counts when B's index[l] > thr[i] (padding and the lower triangle are excluded
/// that way; a micro-tile where every pair counts skips the test).
/// out[0] += sum u^4, out[1] += sum (u + u^2 + u^4 + u^8 + u^16) / 5.
/// Categorical columns (nc of them, mmd_sums_mixed) subtract [code_a != code_b] (w_a + w_b) per
/// column from y. kClamp keeps y in [-1000, 0]; without it the caller has shown that y stays
/// there (up to rounding above 0).
template <bool kCategorical, bool kClamp>
__attribute__((always_inline)) inline void tile_body(const TileA& ta, const TileB& tb, size_t d,
                                                     size_t nc, v8u table, double out[2]) {
  const double *A = ta.rows, *na = ta.norms, *thr = ta.thr, *ca = ta.codes, *wa = ta.weights;
  const double *Bp = tb.panels, *nb = tb.norms, *gb = tb.index, *gmin = tb.gmin, *cb = tb.codes,
               *wb = tb.weights;
  const size_t ra = ta.n, rb = tb.n;
  v8d s1 = {0}, sm = {0};
  const v8d zero = {0}, lo = zero - 1000.0;
  for (size_t i = 0; i < ra; i += kRows) {
    const double* a0 = A + i * d;
    const double* a1 = a0 + d;
    const double* a2 = a1 + d;
    const double* a3 = a2 + d;
    const double tmax = std::max(std::max(thr[i], thr[i + 1]), std::max(thr[i + 2], thr[i + 3]));
    for (size_t q = 0; q < rb; q += kLanes) {
      const double* bp = Bp + q * d;
      v8d c[kRows] = {zero, zero, zero, zero};
      for (size_t j = 0; j < d; ++j) {
        const v8d b = load8(bp + j * kLanes);
        c[0] += a0[j] * b;
        c[1] += a1[j] * b;
        c[2] += a2[j] * b;
        c[3] += a3[j] * b;
      }
      const v8d nbv = load8(nb + q), gbv = load8(gb + q);
      const bool all = gmin[q / kLanes] > tmax;
      for (size_t r = 0; r < kRows; ++r) {
        v8d y = c[r] - (nbv + na[i + r]);
        for (size_t k = 0; kCategorical && k < nc; ++k) {
          const v8d cbv = load8(cb + q * nc + k * kLanes), wbv = load8(wb + q * nc + k * kLanes);
          const double code = ca[(i + r) * nc + k], w = wa[(i + r) * nc + k];
          y -= cbv != code ? wbv + w : zero;
        }
        if (kClamp) {
          y = y < zero ? y : zero;
          y = y > lo ? y : lo;
        }
        const v8d u = exp2_neg(y, table);
        const v8d u2 = u * u, u4 = u2 * u2, u8 = u4 * u4, u16 = u8 * u8;
        const v8d m = ((u + u2) + (u4 + u8)) + u16;
        if (all) {
          s1 += u4;
          sm += m;
        } else {
          const auto w = gbv > thr[i + r];
          s1 += w ? u4 : zero;
          sm += w ? m : zero;
        }
      }
    }
  }
  double t1 = 0, tm = 0;
  for (size_t l = 0; l < kLanes; ++l) {
    t1 += s1[l];
    tm += sm[l];
  }
  out[0] += t1;
  out[1] += tm * 0.2;
}

// The dense kernel and the one with categorical columns, each compiled for AVX-512, AVX2 and
// baseline x86-64, plus a plain baseline copy that tests can force (detail::mmd_force_portable).
// Arguments by pointer: vector arguments would change the ABI between the clones.
template <bool kCategorical>
__attribute__((always_inline)) inline void tile_body_any(const TileA& a, const TileB& b, size_t d,
                                                         size_t nc, bool clamp, v8u table,
                                                         double out[2]) {
  if (clamp)
    tile_body<kCategorical, true>(a, b, d, nc, table, out);
  else
    tile_body<kCategorical, false>(a, b, d, nc, table, out);
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void tile_sums(
    const TileA* a, const TileB* b, size_t d, bool clamp, const Exp2Table* table, double out[2]) {
  tile_body_any<false>(*a, *b, d, 0, clamp, table->bits, out);
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void tile_sums_mixed(
    const TileA* a, const TileB* b, size_t d, size_t nc, bool clamp, const Exp2Table* table,
    double out[2]) {
  tile_body_any<true>(*a, *b, d, nc, clamp, table->bits, out);
}

void tile_sums_portable(const TileA* a, const TileB* b, size_t d, size_t nc, bool clamp,
                        const Exp2Table* table, double out[2]) {
  if (nc == 0)
    tile_body_any<false>(*a, *b, d, 0, clamp, table->bits, out);
  else
    tile_body_any<true>(*a, *b, d, nc, clamp, table->bits, out);
}

std::atomic<bool>& force_portable_flag() {
  static std::atomic<bool> f{false};
  return f;
}

/// A matrix prepared for tiles: padded row-major copy (rows to a multiple of kRows), packed
/// panels (rows to a multiple of kLanes), squared norms, and global indices (padding: -2).
struct Packed {
  size_t n = 0, d = 0, n_pad = 0, nc = 0;
  std::vector<double> rows, panels, norms, index;
  std::vector<double> panel_min;  ///< smallest index in each panel of kLanes rows
  std::vector<double> crows, wrows, cpanels, wpanels;  ///< categorical codes and weights
};

Packed pack(const MatrixRM& X);

/// pack() plus the categorical codes (n x nc, -1 = missing) and their weights.
Packed pack_mixed(const MatrixRM& X, const MatrixRM& codes, const CategoryWeights& w) {
  Packed p = pack(X);
  p.nc = size_t(codes.cols());
  p.crows.assign(p.n_pad * p.nc, -2.0);  // padding rows: a code no row has, weight 0
  p.wrows.assign(p.n_pad * p.nc, 0.0);
  p.cpanels.assign(p.n_pad * p.nc, -2.0);
  p.wpanels.assign(p.n_pad * p.nc, 0.0);
  for (size_t i = 0; i < p.n; ++i)
    for (size_t k = 0; k < p.nc; ++k) {
      const double code = codes(Eigen::Index(i), Eigen::Index(k));
      const double weight = code >= 0 ? w[k][size_t(code)] : 0.0;
      p.crows[i * p.nc + k] = code;
      p.wrows[i * p.nc + k] = weight;
      const size_t at = (i / kLanes) * kLanes * p.nc + k * kLanes + i % kLanes;
      p.cpanels[at] = code;
      p.wpanels[at] = weight;
    }
  return p;
}

Packed pack(const MatrixRM& X) {
  Packed p;
  p.n = size_t(X.rows());
  p.d = size_t(X.cols());
  const size_t step = std::max(kRows, kLanes);
  p.n_pad = (p.n + step - 1) / step * step;
  p.rows.assign(p.n_pad * p.d, 0.0);
  p.panels.assign(p.n_pad * p.d, 0.0);
  p.norms.assign(p.n_pad, 0.0);
  p.index.assign(p.n_pad, -2.0);
  const double* x = X.data();
  for (size_t i = 0; i < p.n; ++i) {
    std::memcpy(&p.rows[i * p.d], x + i * p.d, p.d * sizeof(double));
    double s = 0;
    for (size_t j = 0; j < p.d; ++j) {
      s += x[i * p.d + j] * x[i * p.d + j];
      p.panels[(i / kLanes) * kLanes * p.d + j * kLanes + i % kLanes] = x[i * p.d + j];
    }
    p.norms[i] = s;
    p.index[i] = double(i);
  }
  p.panel_min.assign(p.n_pad / kLanes, -2.0);
  for (size_t q = 0; q < p.n_pad / kLanes; ++q)
    p.panel_min[q] = *std::min_element(p.index.begin() + long(q * kLanes),
                                       p.index.begin() + long((q + 1) * kLanes));
  return p;
}

void check_matrix(const MatrixRM& M, const char* what) {
  const double* p = M.data();
  const size_t n = size_t(M.size());
  for (size_t k = 0; k < n; ++k)
    RF_CHECK_INPUT(std::isfinite(p[k]), "mmd: {} row {} column {} is not finite", what,
                   k / size_t(M.cols()), k % size_t(M.cols()));
}

double sq_dist(const double* a, const double* b, size_t d) {
  double s = 0;
  for (size_t j = 0; j < d; ++j) s += (a[j] - b[j]) * (a[j] - b[j]);
  return s;
}

/// numpy.median of a list (modified).
double median_of(std::vector<double>& v) {
  const size_t n = v.size();
  std::nth_element(v.begin(), v.begin() + n / 2, v.end());
  const double hi = v[n / 2];
  if (n % 2) return hi;
  const double lo = *std::max_element(v.begin(), v.begin() + n / 2);
  return 0.5 * (lo + hi);
}

/// Seeded subsample of k of n indices (sorted); all when k >= n.
std::vector<size_t> subsample(size_t n, size_t k, Rng& rng) {
  std::vector<size_t> idx;
  if (k >= n) {
    idx.resize(n);
    for (size_t i = 0; i < n; ++i) idx[i] = i;
    return idx;
  }
  std::vector<size_t> perm = rng.permutation(n);
  idx.assign(perm.begin(), perm.begin() + long(k));
  std::sort(idx.begin(), idx.end());
  return idx;
}

}  // namespace

namespace detail {
bool mmd_force_portable(bool on) { return force_portable_flag().exchange(on); }
}  // namespace detail

double mmd2_from_sums(const double sums[6], size_t m, size_t n, int offset) {
  const double dm = double(m), dn = double(n);
  return sums[offset] / (dm * (dm - 1)) + sums[offset + 1] / (dn * (dn - 1)) -
         2.0 * sums[offset + 2] / (dm * dn);
}

namespace {

void sums_packed(Packed px, Packed py, double s, size_t tile, int threads, double out[6]) {
  const size_t d = px.d, nc = px.nc;
  tile = std::max<size_t>(kLanes, tile / kLanes * kLanes);
  // |a - b|^2 <= 2 |a|^2 + 2 |b|^2 (+ the category weights of both rows): when L times that
  // stays below 1000 for every pair of two matrices, y cannot leave [-1000, rounding] and the
  // kernels skip the clamp (two comparisons and blends per 8 pairs).
  auto reach = [&](const Packed& m) {
    double nmax = 0, wmax = 0;
    for (size_t i = 0; i < m.n; ++i) {
      nmax = std::max(nmax, m.norms[i]);
      double w = 0;
      for (size_t c = 0; c < m.nc; ++c) w += m.wrows[i * m.nc + c];
      wmax = std::max(wmax, w);
    }
    return 2 * nmax + wmax;
  };
  const double reach_x = reach(px), reach_y = reach(py);
  // The kernels work in base 2: y = -L |a - b|^2 with L = log2(e) / (8 s^2), u = 2^y. Rows and
  // panels are multiplied by g = sqrt(2L), so <a', b'> = 2L <a, b>; squared norms and category
  // weights by L (in place: the packed copies are this function's own).
  const double L = 1.4426950408889634074 / (8.0 * s * s);
  const double g = std::sqrt(2.0 * L);
  for (Packed* m : {&px, &py}) {
    for (double& v : m->rows) v *= g;
    for (double& v : m->panels) v *= g;
    for (double& v : m->norms) v *= L;
    for (double& v : m->wrows) v *= L;
    for (double& v : m->wpanels) v *= L;
  }
  auto needs_clamp = [&](const Packed& a, const Packed& b) {
    const double r = (&a == &px ? reach_x : reach_y) + (&b == &px ? reach_x : reach_y);
    return !(L * r < 900.0);
  };
  const Exp2Table* table = &exp2_table();  // by pointer: vector arguments change the ABI
  const bool portable = force_portable_flag().load();
  struct Task {
    const Packed* a;
    const Packed* b;
    size_t a0;  // first row of the A tile
    bool upper;
    int slot;  // 0 = XX, 1 = YY, 2 = XY
  };
  std::vector<Task> tasks;
  for (size_t a0 = 0; a0 < px.n; a0 += tile) tasks.push_back({&px, &px, a0, true, 0});
  for (size_t a0 = 0; a0 < py.n; a0 += tile) tasks.push_back({&py, &py, a0, true, 1});
  for (size_t a0 = 0; a0 < px.n; a0 += tile) tasks.push_back({&px, &py, a0, false, 2});
  std::vector<double> part(tasks.size() * 2, 0.0);
  std::atomic<size_t> next{0};
  auto work = [&] {
    std::vector<double> thr;
    for (;;) {
      const size_t t = next.fetch_add(1);
      if (t >= tasks.size()) break;
      const Task& tk = tasks[t];
      const size_t a1 = std::min(tk.a->n, tk.a0 + tile);
      const size_t ra = (a1 - tk.a0 + kRows - 1) / kRows * kRows;
      thr.assign(ra, 1e300);
      for (size_t i = tk.a0; i < a1; ++i) thr[i - tk.a0] = tk.upper ? double(i) : -1.0;
      const bool clamp = needs_clamp(*tk.a, *tk.b);
      TileA ta;
      ta.rows = &tk.a->rows[tk.a0 * d];
      ta.norms = &tk.a->norms[tk.a0];
      ta.thr = thr.data();
      ta.n = ra;
      ta.codes = nc ? &tk.a->crows[tk.a0 * nc] : nullptr;
      ta.weights = nc ? &tk.a->wrows[tk.a0 * nc] : nullptr;
      double acc[2] = {0, 0};
      const size_t b_begin = tk.upper ? tk.a0 / kLanes * kLanes : 0;
      for (size_t b0 = b_begin; b0 < tk.b->n; b0 += tile) {
        const size_t b1 = std::min(tk.b->n_pad, b0 + tile);
        TileB tb;
        tb.panels = &tk.b->panels[b0 * d];
        tb.norms = &tk.b->norms[b0];
        tb.index = &tk.b->index[b0];
        tb.gmin = &tk.b->panel_min[b0 / kLanes];
        tb.n = b1 - b0;
        tb.codes = nc ? &tk.b->cpanels[b0 * nc] : nullptr;
        tb.weights = nc ? &tk.b->wpanels[b0 * nc] : nullptr;
        if (portable)
          tile_sums_portable(&ta, &tb, d, nc, clamp, table, acc);
        else if (nc == 0)
          tile_sums(&ta, &tb, d, clamp, table, acc);
        else
          tile_sums_mixed(&ta, &tb, d, nc, clamp, table, acc);
      }
      part[2 * t] = acc[0];
      part[2 * t + 1] = acc[1];
    }
  };
  const int nt = std::max(1, std::min<int>(threads, int(tasks.size())));
  std::vector<std::thread> pool;
  for (int i = 1; i < nt; ++i) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
  for (int k = 0; k < 6; ++k) out[k] = 0;
  for (size_t t = 0; t < tasks.size(); ++t) {
    const int slot = tasks[t].slot;
    const double f = slot == 2 ? 1.0 : 2.0;  // unordered pairs count twice in sum_{i != j}
    out[slot] += f * part[2 * t];
    out[3 + slot] += f * part[2 * t + 1];
  }
}

}  // namespace

void mmd_sums(const MatrixRM& X, const MatrixRM& Y, double s, size_t tile, int threads,
              double out[6]) {
  sums_packed(pack(X), pack(Y), s, tile, threads, out);
}

void mmd_sums_mixed(const MixedRows& X, const MixedRows& Y, const CategoryWeights& w, double s,
                    size_t tile, int threads, double out[6]) {
  RF_CHECK(X.numeric.cols() == Y.numeric.cols() && X.codes.cols() == Y.codes.cols() &&
               size_t(X.codes.cols()) == w.size() && X.numeric.rows() == X.codes.rows() &&
               Y.numeric.rows() == Y.codes.rows(),
           "mmd_sums_mixed: inconsistent shapes");
  sums_packed(pack_mixed(X.numeric, X.codes, w), pack_mixed(Y.numeric, Y.codes, w), s, tile,
              threads, out);
}

void mmd_sums_reference(const MatrixRM& X, const MatrixRM& Y, double s, double out[6]) {
  const size_t m = size_t(X.rows()), n = size_t(Y.rows()), d = size_t(X.cols());
  for (int k = 0; k < 6; ++k) out[k] = 0;
  const double f = 1.0 / (2.0 * s * s);
  const double cs[5] = {0.25, 0.5, 1.0, 2.0, 4.0};
  auto add = [&](const double* a, const double* b, int slot) {
    const double d2 = sq_dist(a, b, d);
    out[slot] += std::exp(-d2 * f);
    double mk = 0;
    for (double c : cs) mk += std::exp(-d2 * f / c);
    out[3 + slot] += mk / 5.0;
  };
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j < m; ++j)
      if (i != j) add(X.data() + i * d, X.data() + j * d, 0);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j)
      if (i != j) add(Y.data() + i * d, Y.data() + j * d, 1);
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j < n; ++j) add(X.data() + i * d, Y.data() + j * d, 2);
}

double median_heuristic(const MatrixRM& X, const MatrixRM& Y, size_t median_rows, Rng& rng) {
  const size_t m = size_t(X.rows()), n = size_t(Y.rows()), d = size_t(X.cols());
  const std::vector<size_t> pick = subsample(m + n, std::max<size_t>(median_rows, 2), rng);
  auto row = [&](size_t k) { return k < m ? X.data() + k * d : Y.data() + (k - m) * d; };
  std::vector<double> dist;
  dist.reserve(pick.size() * (pick.size() - 1) / 2);
  for (size_t a = 0; a < pick.size(); ++a)
    for (size_t b = a + 1; b < pick.size(); ++b)
      dist.push_back(std::sqrt(sq_dist(row(pick[a]), row(pick[b]), d)));
  if (dist.empty()) return 1.0;
  const double med = median_of(dist);
  return med > 0 ? med : 1.0;
}

MmdResult mmd(const MatrixRM& X, const MatrixRM& Y, const MmdOptions& opt, Rng& rng) {
  RF_CHECK_INPUT(X.cols() == Y.cols() && X.cols() >= 1,
                 "mmd: the samples have {} and {} features; they must match", X.cols(), Y.cols());
  RF_CHECK_INPUT(X.rows() >= 2 && Y.rows() >= 2,
                 "mmd: needs at least 2 rows in each sample (got {} and {})", X.rows(), Y.rows());
  RF_CHECK_INPUT(opt.permutations >= 0, "mmd: permutations = {} must be >= 0", opt.permutations);
  check_matrix(X, "real");
  check_matrix(Y, "synthetic");
  MmdResult res;
  res.bandwidth = opt.bandwidth > 0 ? opt.bandwidth : median_heuristic(X, Y, opt.median_rows, rng);
  const int threads =
      opt.threads > 0 ? opt.threads : std::max(1, int(std::thread::hardware_concurrency()));
  double sums[6];
  if (opt.device == "cpu" && opt.mixed_x && opt.mixed_y && opt.weights)
    mmd_sums_mixed(*opt.mixed_x, *opt.mixed_y, *opt.weights, res.bandwidth, opt.tile, threads,
                   sums);
  else
    mmd_sums_on(opt.device, X, Y, res.bandwidth, opt.tile, threads, sums);
  const size_t m = size_t(X.rows()), n = size_t(Y.rows()), d = size_t(X.cols());
  res.mmd2 = mmd2_from_sums(sums, m, n, 0);
  res.mmd2_multi = mmd2_from_sums(sums, m, n, 3);
  if (opt.permutations == 0) return res;

  // Permutation test on (a subsample of) the pooled rows, from the pooled kernel matrix.
  const std::vector<size_t> sx = subsample(m, std::max<size_t>(opt.perm_rows, 2), rng);
  const std::vector<size_t> sy = subsample(n, std::max<size_t>(opt.perm_rows, 2), rng);
  const size_t px = sx.size(), py = sy.size(), N = px + py;
  auto row = [&](size_t k) { return k < px ? X.data() + sx[k] * d : Y.data() + sy[k - px] * d; };
  Eigen::MatrixXd K(static_cast<Eigen::Index>(N), static_cast<Eigen::Index>(N));
  const double f = 1.0 / (2.0 * res.bandwidth * res.bandwidth);
  {
    // Rows of the upper triangle dealt round-robin to the threads (each entry written by one
    // thread; the values do not depend on the thread count).
    const int nt = std::max(1, std::min<int>(threads, int(N / 64) + 1));
    auto fill = [&](int t) {
      for (size_t a = size_t(t); a < N; a += size_t(nt)) {
        K(Eigen::Index(a), Eigen::Index(a)) = 1.0;
        for (size_t b = a + 1; b < N; ++b) {
          const double v = std::exp(-sq_dist(row(a), row(b), d) * f);
          K(Eigen::Index(a), Eigen::Index(b)) = v;
          K(Eigen::Index(b), Eigen::Index(a)) = v;
        }
      }
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < nt; ++t) pool.emplace_back(fill, t);
    fill(0);
    for (auto& th : pool) th.join();
  }
  const Eigen::VectorXd K1 = K.rowwise().sum();
  const double total = K1.sum();
  // With z the indicator of the rows labelled "real" (p of them, diagonal entries all 1):
  //   S_xx = z'Kz - p, S_xy = z'K1 - z'Kz, S_yy = 1'K1 - 2 z'K1 + z'Kz - (N - p).
  // The labellings in batches: one matrix product K Z per batch instead of a full pass over K
  // per permutation. Column 0 of every batch is the observed labelling (the first px rows), and
  // batches are padded with empty columns to a multiple of 8, so every column goes through the
  // same product kernel: a permutation that reproduces the observed labelling gives exactly the
  // observed statistic. Same draws, in the same order, as one permutation at a time.
  auto stat = [&](const Eigen::MatrixXd& Z, const Eigen::MatrixXd& KZ, Eigen::Index b) {
    const double zKz = Z.col(b).dot(KZ.col(b)), zK1 = Z.col(b).dot(K1);
    const double sxx = zKz - double(px), sxy = zK1 - zKz;
    const double syy = total - 2 * zK1 + zKz - double(py);
    const double s3[6] = {sxx, syy, sxy, 0, 0, 0};
    return mmd2_from_sums(s3, px, py, 0);
  };
  std::vector<size_t> order(N);
  for (size_t a = 0; a < N; ++a) order[a] = a;
  int ge = 0;
  constexpr int kBatch = 63;  // permutations per batch (+ the observed column = 64)
  Eigen::MatrixXd Z, KZ;
  for (int p0 = 0; p0 < opt.permutations; p0 += kBatch) {
    const int nb = std::min(kBatch, opt.permutations - p0);
    const Eigen::Index cols = (nb + 1 + 7) / 8 * 8;
    Z.setZero(static_cast<Eigen::Index>(N), cols);
    for (size_t a = 0; a < px; ++a) Z(Eigen::Index(a), 0) = 1.0;
    for (int b = 1; b <= nb; ++b) {
      rng.shuffle(order);
      for (size_t a = 0; a < px; ++a) Z(Eigen::Index(order[a]), b) = 1.0;
    }
    KZ.noalias() = K * Z;
    const double observed = stat(Z, KZ, 0);
    for (int b = 1; b <= nb; ++b)
      if (stat(Z, KZ, b) >= observed) ++ge;
  }
  res.p_value = (1.0 + ge) / (1.0 + opt.permutations);
  res.permutations = opt.permutations;
  res.perm_rows_x = px;
  res.perm_rows_y = py;
  return res;
}

}  // namespace rareforge::validation
