// Blocked brute-force search: a cheap guaranteed lower bound of every distance, then exact
// re-ranking of the pairs the bound cannot rule out.
//
// Both screens work on centred data c = x - mean(reference) (translation does not change
// distances) and give, for query q and reference row r, a value L with L <= the exact squared
// distance. A pair is re-ranked with the exact double formula (sq_dist on the original rows)
// only when L <= T_q, T_q being the query's current k-th exact distance (the radius^2 when
// counting); every true neighbour passes, so results are exact whatever the screen.
//
// Float screen (AVX-512, AVX2+FMA, portable). c is scaled by a power of two so the largest
// |value| is in [0.5, 1) and rounded to float. With u = 2^-24, tol = 2 (d + 8) u:
//   L = A_q + B_r - 2 <q, r>,  A_q = ||c_q||^2 (1 - tol) - 2^-100,  B_r = ||c_r||^2 (1 - tol)
// computed in float with A, B rounded down. The float dot product, the input rounding and the
// two float operations err by at most (d + 6) u (||c_q||^2 + ||c_r||^2); 2^-100 covers
// underflow of tiny values. Data whose scale would underflow double distances take A = -inf
// (every pair is re-ranked).
//   Layout: panels of 16 rows; panel p, feature j, lane l -> fpanels[(p * d + j) * 16 + l].
//
// Int8 screen (AVX-512 VNNI, 4x the multiply-adds of float per instruction). Values are first
// clipped to [-C, C] (v = clip(c), C from choose_clip): clipping each coordinate to an interval
// never lengthens a difference, so ||v_q - v_r|| <= ||c_q - c_r|| and a lower bound of the
// clipped distance is one of the true distance. With step s = C / 127, a = round(v / s) in
// [-127, 127], v^ = s a, and the exact bound
//   |<v_q, v_r> - s^2 <a_q, a_r>| <= (s / 2) (||v^_q||_1 + ||v_r||_1)
// the test L <= T becomes, in integers,
//   <a_q, a_r> >= floor(P_q / 2s^2) + floor(R_r / 2s^2),
//   P_q = ||v_q||^2 - s ||v^_q||_1 - T_q,  R_r = ||v_r||^2 - s ||v_r||_1 (- radius_r^2 for balls)
// (each floor taken after a small downward margin for double rounding). Without clipping
// (C = max|c|) a few outlying values make every row's codes coarse and the bound loose for all
// pairs; clipped, only the pairs of rows with outlying values pass the screen more often.
// The reference is stored as unsigned a_r + 128 (vpdpbusd multiplies unsigned by signed
// bytes); the 128 sum(a_q) this adds is folded into the query's threshold K_q, and
// -floor(R_r / 2s^2) is the accumulator's start value, so the kernel is dot products and one
// compare.
//   Layout: dims in groups of 4 (zero-padded); panel p, group g, lane l, byte t ->
//   ipanels[((p * groups + g) * 16 + l) * 4 + t].
// The int8 bound is looser where the data has outliers or low intrinsic dimension; a query
// block that re-ranks more extra pairs than int8 saves (int8_break_even) switches the rest of
// the search to the float screen (results are identical either way).
//
// Work: queries in blocks of up to 96, blocks in waves of about one per thread (run_wave); a
// wave runs over tiles of panels that fit in L2, every block of the wave screening a tile before
// the next (so the tile is read from memory once per wave, not once per block), and within a
// tile micro-blocks of 8 (AVX-512), 6 (AVX2) or 2 (portable) queries keep their accumulators in
// registers. Pairs that pass are re-ranked in batches (HitSink) after prefetching their rows.
// self_query on the int8 screen screens each unordered pair once (the self-join below).
// Memory: the packed reference (n x d floats, or n x d bytes for int8) plus per-thread block
// buffers (the self-join: a few int32 per row); never n_queries x n.
//
// Order: the self-join runs on a copy of the rows in a kd-style spatial order, and 1,024 or
// more queries are searched in such an order, so that rows searched together are near one
// another; results go back to the caller's rows and carry the original indices, ties included.
//
// Every bound, layout and threshold here only decides which pairs get re-ranked; which rows
// are returned is decided by TopK on exact distances, so no choice below can change a result.
#if (defined(__x86_64__) || defined(__i386__)) && !defined(RF_KNN_PORTABLE)
#define RF_KNN_X86 1
#include <immintrin.h>
#endif

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <numeric>
#include <vector>

#include "classical/knn_internal.h"
#include "core/error.h"

namespace rareforge::knn::detail {
namespace {

constexpr size_t kLanes = 16;
constexpr size_t kQueryPad = 24;  // multiple of every kernel's micro-block (8, 6, 2)
constexpr float kInfF = std::numeric_limits<float>::infinity();
constexpr size_t kMaxInt8Dims = 4096;  // keeps every int32 accumulator far from overflow
constexpr int32_t kInitMax = 1 << 29;
/// About this share of the rows have a value clipped by the int8 screen (choose_clip). On 20
/// features, 5 % halved the re-ranks of the self-join and of 10,000 x 1,000,000 searches on
/// make_classification-like data and kept the int8 screen on log-normal columns (bench_knn).
constexpr double kClipRows = 0.05;

/// Extra exact re-ranks per screened pair at which the int8 screen stops paying: it saves about
/// 0.0135 d ns per pair over float and an exact re-rank costs about 5 + d ns (measured on a
/// Zen 4 class EPYC).
double int8_break_even(size_t d) {
  const double dd = static_cast<double>(d);
  return 0.0135 * dd / (5.0 + dd);
}

/// The same for the int8 self-join against the plain float search: the join screens each pair
/// once, saving (0.14 + 0.023 d) - (0.14 + 0.0095 d) / 2 ns per pair.
double join_break_even(size_t d) {
  const double dd = static_cast<double>(d);
  return (0.07 + 0.01825 * dd) / (5.0 + dd);
}

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
template <class T>
using Buffer = std::unique_ptr<T[], FreeDeleter>;

template <class T>
Buffer<T> aligned_buffer(size_t n) {
  const size_t bytes = std::max<size_t>(64, (n * sizeof(T) + 63) / 64 * 64);
  void* p = std::aligned_alloc(64, bytes);
  RF_CHECK(p != nullptr, "out of memory allocating {} bytes for the k-NN search", bytes);
  return Buffer<T>(static_cast<T*>(p));
}

float round_down(double x) {
  float f = static_cast<float>(x);
  if (static_cast<double>(f) > x) f = std::nextafter(f, -kInfF);
  return f;
}

float round_up(double x) {
  float f = static_cast<float>(x);
  if (static_cast<double>(f) < x) f = std::nextafter(f, kInfF);
  return f;
}

/// Receives the pairs that pass the screen. Kernels call hits() for query slot m when lanes
/// `mask` of panel `panel` pass; the sink buffers them and re-ranks a batch at a time, first
/// prefetching every row the batch touches, so the cache misses of scattered rows overlap.
/// Thresholds are tightened when a batch is processed; until then the kernel screens with the
/// older, larger ones, which only lets more pairs through. flush() before reading results.
class HitSink {
 public:
  virtual ~HitSink() = default;

  void hits(size_t m, uint32_t mask, size_t panel) {
    pending_[n_pending_++] = Hit{m, panel, mask};
    lanes_ += static_cast<size_t>(__builtin_popcount(mask));
    if (lanes_ >= kBatchLanes || n_pending_ == kMaxPending) flush();
  }

  void flush() {
    if (n_pending_ == 0) return;
    process(pending_, n_pending_);
    n_pending_ = 0;
    lanes_ = 0;
  }

 protected:
  struct Hit {
    size_t m;
    size_t panel;
    uint32_t mask;
  };
  virtual void process(const Hit* hits, size_t n) = 0;

  static void prefetch_row(const double* row, size_t d) {
    const char* p = reinterpret_cast<const char*>(row);
    const size_t bytes = std::min<size_t>(d * sizeof(double), 256);
    for (size_t b = 0; b < bytes; b += 64) __builtin_prefetch(p + b);
    __builtin_prefetch(p + d * sizeof(double) - 1);
  }

 private:
  static constexpr size_t kBatchLanes = 24;
  static constexpr size_t kMaxPending = 16;
  Hit pending_[kMaxPending];
  size_t n_pending_ = 0;
  size_t lanes_ = 0;
};

/// One block of queries as a kernel sees it. Float kernels read qf/A/T, the int8 kernel q8/K.
struct Block {
  size_t nq = 0;  ///< multiple of kQueryPad (padding slots never pass)
  const float* qf = nullptr;
  const float* A = nullptr;
  const float* T = nullptr;
  const int32_t* q8 = nullptr;  ///< groups int32 (4 packed signed bytes) per query
  const int32_t* K = nullptr;
  HitSink* sink = nullptr;
};

struct FloatPanels {
  const float* panels = nullptr;
  const float* B = nullptr;
  const float* R = nullptr;  ///< kBalls: scaled radius^2 per row, else null
  size_t d = 0;
};

struct Int8Panels {
  const uint8_t* panels = nullptr;
  const int32_t* init = nullptr;
  size_t groups = 0;
};

using FloatKernel = void (*)(const Block&, const FloatPanels&, size_t, size_t);
using Int8Kernel = void (*)(const Block&, const Int8Panels&, size_t, size_t);

// ---- portable float kernel: 2 queries x 16 rows, GCC vector extensions (SSE2, NEON) ---------

typedef float V4 __attribute__((vector_size(16)));
typedef int32_t V4i __attribute__((vector_size(16)));

inline V4 load4(const float* p) {
  V4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <bool kBalls>
void kernel_generic(const Block& b, const FloatPanels& r, size_t p0, size_t p1) {
  const size_t d = r.d;
  for (size_t m0 = 0; m0 < b.nq; m0 += 2) {
    const float* q = b.qf + m0 * d;
    for (size_t p = p0; p < p1; ++p) {
      const float* panel = r.panels + p * d * kLanes;
      V4 a0[4] = {}, a1[4] = {};
      for (size_t j = 0; j < d; ++j) {
        const float* pj = panel + j * kLanes;
        const V4 q0 = V4{} + q[j];
        const V4 q1 = V4{} + q[d + j];
        for (int t = 0; t < 4; ++t) {
          const V4 rv = load4(pj + 4 * t);
          a0[t] += q0 * rv;
          a1[t] += q1 * rv;
        }
      }
      const float* B = r.B + p * kLanes;
      for (size_t m = 0; m < 2; ++m) {
        const V4* acc = m == 0 ? a0 : a1;
        const V4 A = V4{} + b.A[m0 + m];
        const V4 T = V4{} + b.T[m0 + m];
        uint32_t mask = 0;
        for (int t = 0; t < 4; ++t) {
          const V4 L = (A + load4(B + 4 * t)) - 2.0f * acc[t];
          const V4 thr = kBalls ? load4(r.R + p * kLanes + 4 * t) : T;
          const V4i bits = (L <= thr) & V4i{1, 2, 4, 8};
          mask |= static_cast<uint32_t>(bits[0] | bits[1] | bits[2] | bits[3]) << (4 * t);
        }
        if (mask) b.sink->hits(m0 + m, mask, p);
      }
    }
  }
}

#ifdef RF_KNN_X86

// ---- AVX2 + FMA float kernel: 6 queries x 16 rows (two ymm) ---------------------------------

#pragma GCC push_options
#pragma GCC target("avx2,fma")

template <bool kBalls>
void kernel_avx2(const Block& b, const FloatPanels& r, size_t p0, size_t p1) {
  constexpr size_t kM = 6;
  const size_t d = r.d;
  const __m256 two = _mm256_set1_ps(2.0f);
  for (size_t m0 = 0; m0 < b.nq; m0 += kM) {
    const float* q = b.qf + m0 * d;
    for (size_t p = p0; p < p1; ++p) {
      const float* panel = r.panels + p * d * kLanes;
      __m256 acc[kM][2];
#pragma GCC unroll 6
      for (size_t m = 0; m < kM; ++m) acc[m][0] = acc[m][1] = _mm256_setzero_ps();
      for (size_t j = 0; j < d; ++j) {
        const __m256 r0 = _mm256_load_ps(panel + j * kLanes);
        const __m256 r1 = _mm256_load_ps(panel + j * kLanes + 8);
#pragma GCC unroll 6
        for (size_t m = 0; m < kM; ++m) {
          const __m256 qv = _mm256_broadcast_ss(q + m * d + j);
          acc[m][0] = _mm256_fmadd_ps(qv, r0, acc[m][0]);
          acc[m][1] = _mm256_fmadd_ps(qv, r1, acc[m][1]);
        }
      }
      const __m256 b0 = _mm256_load_ps(r.B + p * kLanes);
      const __m256 b1 = _mm256_load_ps(r.B + p * kLanes + 8);
      __m256 t0 = _mm256_setzero_ps(), t1 = _mm256_setzero_ps();
      if (kBalls) {
        t0 = _mm256_load_ps(r.R + p * kLanes);
        t1 = _mm256_load_ps(r.R + p * kLanes + 8);
      }
#pragma GCC unroll 6
      for (size_t m = 0; m < kM; ++m) {
        const __m256 a = _mm256_broadcast_ss(b.A + m0 + m);
        if (!kBalls) t0 = t1 = _mm256_broadcast_ss(b.T + m0 + m);
        const __m256 l0 = _mm256_fnmadd_ps(two, acc[m][0], _mm256_add_ps(a, b0));
        const __m256 l1 = _mm256_fnmadd_ps(two, acc[m][1], _mm256_add_ps(a, b1));
        const uint32_t mask =
            static_cast<uint32_t>(_mm256_movemask_ps(_mm256_cmp_ps(l0, t0, _CMP_LE_OQ))) |
            static_cast<uint32_t>(_mm256_movemask_ps(_mm256_cmp_ps(l1, t1, _CMP_LE_OQ))) << 8;
        if (mask) b.sink->hits(m0 + m, mask, p);
      }
    }
  }
}

#pragma GCC pop_options

// ---- AVX-512 float kernel: 8 queries x 32 rows (two panels) ---------------------------------

#pragma GCC push_options
#pragma GCC target("avx512f")

template <bool kBalls, size_t kP>
inline void avx512_step(const Block& b, const FloatPanels& r, size_t m0, size_t p) {
  constexpr size_t kM = 8;
  const size_t d = r.d;
  const float* q = b.qf + m0 * d;
  const float* panel = r.panels + p * d * kLanes;
  const size_t stride = d * kLanes;  // next panel
  __m512 acc[kM][kP];
#pragma GCC unroll 8
  for (size_t m = 0; m < kM; ++m)
#pragma GCC unroll 2
    for (size_t s = 0; s < kP; ++s) acc[m][s] = _mm512_setzero_ps();
  for (size_t j = 0; j < d; ++j) {
    __m512 rv[kP];
#pragma GCC unroll 2
    for (size_t s = 0; s < kP; ++s) rv[s] = _mm512_load_ps(panel + s * stride + j * kLanes);
#pragma GCC unroll 8
    for (size_t m = 0; m < kM; ++m) {
      const __m512 qv = _mm512_set1_ps(q[m * d + j]);
#pragma GCC unroll 2
      for (size_t s = 0; s < kP; ++s) acc[m][s] = _mm512_fmadd_ps(qv, rv[s], acc[m][s]);
    }
  }
  const __m512 two = _mm512_set1_ps(2.0f);
  __m512 bv[kP], rr[kP];
#pragma GCC unroll 2
  for (size_t s = 0; s < kP; ++s) {
    bv[s] = _mm512_load_ps(r.B + (p + s) * kLanes);
    rr[s] = kBalls ? _mm512_load_ps(r.R + (p + s) * kLanes) : _mm512_setzero_ps();
  }
#pragma GCC unroll 8
  for (size_t m = 0; m < kM; ++m) {
    const __m512 a = _mm512_set1_ps(b.A[m0 + m]);
    const __m512 t = _mm512_set1_ps(b.T[m0 + m]);
    uint32_t masks[kP];
    uint32_t any = 0;
#pragma GCC unroll 2
    for (size_t s = 0; s < kP; ++s) {
      const __m512 l = _mm512_fnmadd_ps(two, acc[m][s], _mm512_add_ps(a, bv[s]));
      masks[s] = _mm512_cmp_ps_mask(l, kBalls ? rr[s] : t, _CMP_LE_OQ);
      any |= masks[s];
    }
    if (any) {
      for (size_t s = 0; s < kP; ++s) {
        if (masks[s]) b.sink->hits(m0 + m, masks[s], p + s);
      }
    }
  }
}

template <bool kBalls>
void kernel_avx512(const Block& b, const FloatPanels& r, size_t p0, size_t p1) {
  for (size_t m0 = 0; m0 < b.nq; m0 += 8) {
    size_t p = p0;
    for (; p + 2 <= p1; p += 2) avx512_step<kBalls, 2>(b, r, m0, p);
    if (p < p1) avx512_step<kBalls, 1>(b, r, m0, p);
  }
}

#pragma GCC pop_options

// ---- AVX-512 VNNI int8 kernel: 8 queries x 32 rows (two panels) -----------------------------

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vnni")

template <size_t kP>
inline void vnni_step(const Block& b, const Int8Panels& r, size_t m0, size_t p) {
  constexpr size_t kM = 8;
  const size_t g4 = r.groups;
  const int32_t* q = b.q8 + m0 * g4;
  const uint8_t* panel = r.panels + p * g4 * 64;
  const size_t stride = g4 * 64;  // next panel
  __m512i acc[kM][kP];
  __m512i init[kP];
#pragma GCC unroll 2
  for (size_t s = 0; s < kP; ++s) init[s] = _mm512_load_si512(r.init + (p + s) * kLanes);
#pragma GCC unroll 8
  for (size_t m = 0; m < kM; ++m)
#pragma GCC unroll 2
    for (size_t s = 0; s < kP; ++s) acc[m][s] = init[s];
  for (size_t g = 0; g < g4; ++g) {
    __m512i rv[kP];
#pragma GCC unroll 2
    for (size_t s = 0; s < kP; ++s) rv[s] = _mm512_load_si512(panel + s * stride + g * 64);
#pragma GCC unroll 8
    for (size_t m = 0; m < kM; ++m) {
      const __m512i qv = _mm512_set1_epi32(q[m * g4 + g]);
#pragma GCC unroll 2
      for (size_t s = 0; s < kP; ++s) acc[m][s] = _mm512_dpbusd_epi32(acc[m][s], rv[s], qv);
    }
  }
#pragma GCC unroll 8
  for (size_t m = 0; m < kM; ++m) {
    const __m512i kv = _mm512_set1_epi32(b.K[m0 + m]);
    uint32_t masks[kP];
    uint32_t any = 0;
#pragma GCC unroll 2
    for (size_t s = 0; s < kP; ++s) {
      masks[s] = _mm512_cmpge_epi32_mask(acc[m][s], kv);
      any |= masks[s];
    }
    if (any) {
      for (size_t s = 0; s < kP; ++s) {
        if (masks[s]) b.sink->hits(m0 + m, masks[s], p + s);
      }
    }
  }
}

void kernel_vnni(const Block& b, const Int8Panels& r, size_t p0, size_t p1) {
  for (size_t m0 = 0; m0 < b.nq; m0 += 8) {
    size_t p = p0;
    for (; p + 2 <= p1; p += 2) vnni_step<2>(b, r, m0, p);
    if (p < p1) vnni_step<1>(b, r, m0, p);
  }
}

#pragma GCC pop_options

#endif  // RF_KNN_X86

FloatKernel pick_float_kernel(Simd simd, bool balls) {
#ifdef RF_KNN_X86
  switch (simd) {
    case Simd::kAvx512Vnni:
    case Simd::kAvx512:
      return balls ? kernel_avx512<true> : kernel_avx512<false>;
    case Simd::kAvx2:
      return balls ? kernel_avx2<true> : kernel_avx2<false>;
    case Simd::kGeneric:
      break;
  }
#endif
  return balls ? kernel_generic<true> : kernel_generic<false>;
}

// ---- the search -----------------------------------------------------------------------------

/// Everything shared by the blocks of one search.
struct Search {
  const Problem* p = nullptr;
  size_t n = 0, d = 0, nq = 0, n_panels = 0;
  bool balls = false;
  std::vector<double> mean;
  double max_abs = 0.0;

  // float screen
  int exp2 = 0;  ///< scaled squared distance = ldexp(exact, exp2)
  double scale = 1.0;
  double tol = 0.0;
  bool all_pairs = false;
  Buffer<float> fpanels, fB, fR;
  FloatKernel float_kernel = nullptr;
  std::once_flag float_packed;

  // int8 screen
  bool int8 = false;
  std::atomic<bool> int8_off{false};
  double clip = 0.0;    ///< C: |values| beyond it are clipped to +-127 codes
  double step = 1.0;    ///< s = C / 127
  double inv2s2 = 1.0;  ///< 1 / (2 s^2)
  size_t groups = 0;
  Buffer<uint8_t> ipanels;
  Buffer<int32_t> init;

  const double* ref_row(size_t j) const { return p->reference.row(j); }
};

void pack_float(Search& s) {
  const Problem& p = *s.p;
  const size_t d = s.d;
  s.fpanels = aligned_buffer<float>(s.n_panels * d * kLanes);
  s.fB = aligned_buffer<float>(s.n_panels * kLanes);
  if (s.balls) s.fR = aligned_buffer<float>(s.n_panels * kLanes);
  constexpr size_t kChunk = 512;
  parallel_for((s.n_panels + kChunk - 1) / kChunk, p.threads, [&](size_t c, int) {
    for (size_t pi = c * kChunk; pi < std::min(s.n_panels, (c + 1) * kChunk); ++pi) {
      float* panel = s.fpanels.get() + pi * d * kLanes;
      for (size_t l = 0; l < kLanes; ++l) {
        const size_t i = pi * kLanes + l;
        if (i >= s.n) {
          for (size_t j = 0; j < d; ++j) panel[j * kLanes + l] = 0.0f;
          s.fB[i] = kInfF;
          if (s.balls) s.fR[i] = 0.0f;
          continue;
        }
        const double* x = s.ref_row(i);
        double norm = 0.0;
        for (size_t j = 0; j < d; ++j) {
          const double c = (x[j] - s.mean[j]) * s.scale;
          norm += c * c;
          panel[j * kLanes + l] = static_cast<float>(c);
        }
        s.fB[i] = round_down(norm - s.tol * norm);
        if (s.balls) s.fR[i] = round_up(std::ldexp(p.radii2[i], s.exp2));
      }
    }
  });
}

/// floor(x - margin) clamped to [lo, hi]; margin covers the double rounding of x's terms.
int32_t floor_clamped(double x, double margin, int32_t lo, int32_t hi) {
  const double f = std::floor(x - margin) - 1.0;
  if (!(f > lo)) return lo;  // also NaN, -inf
  if (f >= hi) return hi;
  return static_cast<int32_t>(f);
}

/// Clip a centred value to [-C, C] (C = s.clip): the screen works on clipped rows.
inline double clip_value(double c, double clip) { return std::min(clip, std::max(-clip, c)); }

/// The int8 code of a clipped value: round(c / s), in [-127, 127] (clamped against rounding).
inline int8_t code(double c, double step) {
  return static_cast<int8_t>(std::min(127.0, std::max(-127.0, std::nearbyint(c / step))));
}

void pack_int8(Search& s) {
  const Problem& p = *s.p;
  const size_t d = s.d;
  s.ipanels = aligned_buffer<uint8_t>(s.n_panels * s.groups * 64);
  s.init = aligned_buffer<int32_t>(s.n_panels * kLanes);
  constexpr size_t kChunk = 512;
  parallel_for((s.n_panels + kChunk - 1) / kChunk, p.threads, [&](size_t c, int) {
    for (size_t pi = c * kChunk; pi < std::min(s.n_panels, (c + 1) * kChunk); ++pi) {
      uint8_t* panel = s.ipanels.get() + pi * s.groups * 64;
      for (size_t l = 0; l < kLanes; ++l) {
        const size_t i = pi * kLanes + l;
        for (size_t j = 0; j < s.groups * 4; ++j) panel[(j / 4) * 64 + l * 4 + j % 4] = 128;
        if (i >= s.n) {
          s.init[i] = std::numeric_limits<int32_t>::min() / 2;
          continue;
        }
        const double* x = s.ref_row(i);
        double norm = 0.0, l1 = 0.0;
        for (size_t j = 0; j < d; ++j) {
          const double c = clip_value(x[j] - s.mean[j], s.clip);
          norm += c * c;
          l1 += std::fabs(c);
          // stored as the unsigned a + 128
          panel[(j / 4) * 64 + l * 4 + j % 4] =
              static_cast<uint8_t>(static_cast<uint8_t>(code(c, s.step)) ^ 0x80);
        }
        const double ball = s.balls ? p.radii2[i] * (1.0 + 1e-12) : 0.0;
        const double sl1 = s.step * (1.0 + 1e-12) * l1;
        const double y = (norm - sl1 - ball) * s.inv2s2;
        const double margin = 1e-9 * (norm + sl1 + ball) * s.inv2s2;
        s.init[i] = -floor_clamped(y, margin, -kInitMax, kInitMax);
      }
    }
  });
}

/// A query row as the int8 screen sees it (the plain search's queries, the self-join's rows).
struct QueryCodes {
  double norm = 0.0;   ///< ||v_q||^2 of the clipped row
  double slack = 0.0;  ///< s ||v^_q||_1, rounded up
  int64_t sum = 0;     ///< sum of the codes (the 128 sum(a_q) folded into thresholds)
};

/// Write the codes of row x into the first d bytes of q (the rest untouched).
QueryCodes code_query(const Search& s, const double* x, int32_t* q) {
  QueryCodes r;
  int64_t l1 = 0;
  auto* bytes = reinterpret_cast<uint8_t*>(q);
  for (size_t j = 0; j < s.d; ++j) {
    const double c = clip_value(x[j] - s.mean[j], s.clip);
    r.norm += c * c;
    const int8_t a = code(c, s.step);
    r.sum += a;
    l1 += a < 0 ? -int64_t{a} : int64_t{a};
    bytes[j] = static_cast<uint8_t>(a);
  }
  r.slack = s.step * (1.0 + 1e-12) * s.step * static_cast<double>(l1);
  return r;
}

/// Per-thread buffers for one block of queries.
struct Scratch {
  Buffer<float> qf, A, T;
  Buffer<int32_t> q8, K, off;
  Buffer<double> P, Pm;  ///< int8: P_q without T, and its rounding margin
};

/// Thresholds of one block: sets T (float screen) and K (int8 screen) from an exact distance.
struct Thresholds {
  const Search* s = nullptr;
  Scratch* w = nullptr;
  bool int8 = false;

  void set(size_t m, double t) const {
    if (int8) {
      if (std::isinf(t)) {
        w->K[m] = std::numeric_limits<int32_t>::min();
        return;
      }
      const double tt = t * (1.0 + 1e-12);
      const double y = (w->P[m] - tt) * s->inv2s2;
      const double margin = w->Pm[m] + 1e-9 * tt * s->inv2s2;
      w->K[m] = floor_clamped(y, margin, -kInitMax, kInitMax) + w->off[m];
    } else {
      w->T[m] = round_up(std::ldexp(t, s->exp2));
    }
  }
};

class TopKSink final : public HitSink {
 public:
  TopKSink(const Search& s, const Output& out, size_t q0, size_t nq, const Thresholds& th)
      : s_(s), q0_(q0), th_(th) {
    heaps_.reserve(nq);
    for (size_t m = 0; m < nq; ++m) {
      const size_t i = q0 + m;
      const size_t row = out.row(i);
      heaps_.emplace_back(out.sq + row * s.p->k, out.idx + row * s.p->k, s.p->k);
    }
  }

  void finish() {
    flush();
    for (auto& h : heaps_) {
      RF_CHECK(h.full(), "brute force found {} of {} neighbours", h.size(), s_.p->k);
      h.sort_ascending();
    }
  }

  size_t checks = 0;

 protected:
  __attribute__((noinline)) void process(const Hit* hits, size_t n) override {
    for (size_t h = 0; h < n; ++h) {
      for (uint32_t mask = hits[h].mask; mask; mask &= mask - 1) {
        const size_t j = hits[h].panel * kLanes + static_cast<size_t>(__builtin_ctz(mask));
        if (j < s_.n) prefetch_row(s_.ref_row(j), s_.d);
      }
    }
    for (size_t h = 0; h < n; ++h) {
      const size_t m = hits[h].m;
      const size_t i = q0_ + m;
      const double* q = s_.p->query_row(i);
      const int64_t self = s_.p->self_of(i);
      TopK& heap = heaps_[m];
      bool changed = false;
      for (uint32_t mask = hits[h].mask; mask; mask &= mask - 1) {
        const size_t j = hits[h].panel * kLanes + static_cast<size_t>(__builtin_ctz(mask));
        if (j >= s_.n) break;  // padding lanes of the last panel
        if (static_cast<int64_t>(j) == self) continue;
        ++checks;
        changed |= heap.offer(sq_dist(q, s_.ref_row(j), s_.d), s_.p->id_of(j));
      }
      if (changed && heap.full()) th_.set(m, heap.worst());
    }
  }

 private:
  const Search& s_;
  size_t q0_;
  const Thresholds& th_;
  std::vector<TopK> heaps_;
};

class CountSink final : public HitSink {
 public:
  CountSink(const Search& s, const Output& out, size_t q0) : s_(s), out_(out), q0_(q0) {}

  size_t checks = 0;

 protected:
  __attribute__((noinline)) void process(const Hit* hits, size_t n) override {
    const Problem& p = *s_.p;
    for (size_t h = 0; h < n; ++h) {
      for (uint32_t mask = hits[h].mask; mask; mask &= mask - 1) {
        const size_t j = hits[h].panel * kLanes + static_cast<size_t>(__builtin_ctz(mask));
        if (j < s_.n) prefetch_row(s_.ref_row(j), s_.d);
      }
    }
    for (size_t h = 0; h < n; ++h) {
      const size_t i = q0_ + hits[h].m;
      const double* q = p.query_row(i);
      const int64_t self = p.self_of(i);
      int64_t c = 0;
      for (uint32_t mask = hits[h].mask; mask; mask &= mask - 1) {
        const size_t j = hits[h].panel * kLanes + static_cast<size_t>(__builtin_ctz(mask));
        if (j >= s_.n) break;
        if (static_cast<int64_t>(j) == self) continue;
        ++checks;
        const double r2 = p.mode == Mode::kBalls ? p.radii2[j] : p.radius2;
        c += sq_dist(q, s_.ref_row(j), s_.d) <= r2;
      }
      out_.counts[i] += c;
    }
  }

 private:
  const Search& s_;
  const Output& out_;
  size_t q0_;
};

/// Fill the block's query buffers for the chosen screen. Slots nb..nb_pad-1 are padding.
void prepare_block(const Search& s, Scratch& w, size_t q0, size_t nb, size_t nb_pad, bool int8,
                   const Thresholds& th) {
  const Problem& p = *s.p;
  const size_t d = s.d;
  for (size_t m = 0; m < nb_pad; ++m) {
    if (int8) {
      int32_t* q = w.q8.get() + m * s.groups;
      std::fill(q, q + s.groups, 0);
      if (m >= nb) {
        w.K[m] = std::numeric_limits<int32_t>::max();
        continue;
      }
      const QueryCodes qc = code_query(s, p.query_row(q0 + m), q);
      w.P[m] = qc.norm - qc.slack;
      w.Pm[m] = 1e-9 * (qc.norm + qc.slack) * s.inv2s2;
      w.off[m] = static_cast<int32_t>(128 * qc.sum);
    } else {
      float* qf = w.qf.get() + m * d;
      if (m >= nb) {  // never passes: A = +inf, T = -inf
        std::fill(qf, qf + d, 0.0f);
        w.A[m] = kInfF;
        w.T[m] = -kInfF;
        continue;
      }
      const double* x = p.query_row(q0 + m);
      double norm = 0.0;
      for (size_t j = 0; j < d; ++j) {
        const double c = (x[j] - s.mean[j]) * s.scale;
        norm += c * c;
        qf[j] = static_cast<float>(c);
      }
      w.A[m] = s.all_pairs ? -kInfF : round_down(norm - s.tol * norm - std::ldexp(1.0, -100));
    }
    switch (p.mode) {
      case Mode::kTopK:
        th.set(m, std::numeric_limits<double>::infinity());
        break;
      case Mode::kCount:
        th.set(m, p.radius2);
        break;
      case Mode::kBalls:
        th.set(m, 0.0);  // the per-row radius is in R (float) or the start value (int8)
        break;
    }
  }
}

/// What one block of queries did.
struct BlockResult {
  size_t queries = 0;
  size_t checks = 0;         ///< exact re-ranks
  double excess_rate = 0.0;  ///< re-ranks beyond a perfect screen's, per screened pair
};

/// One block of a wave: its thresholds, the kernel's view of it and its sink.
struct BlockRun {
  size_t q0 = 0, nb = 0;
  Thresholds th;
  Block block;
  std::unique_ptr<TopKSink> topk;
  std::unique_ptr<CountSink> count;
};

/// Search the blocks [b0, b1) of the queries (block b: queries [b qb, min(nq, (b + 1) qb)))
/// against every reference row, with the tiles of panels outermost: each tile is screened by
/// every block of the wave while it is in L2, and the rows the wave's pairs re-rank lie in
/// that tile too (6 % less time single-threaded on 10,000 x 1,000,000; on two threads the
/// same as block by block). ws holds one Scratch per block of the wave (grown as needed). Each
/// block's rows, thresholds and results are its own, so the results do not depend on the waves.
std::vector<BlockResult> run_wave(Search& s, std::vector<Scratch>& ws, size_t qb, size_t b0,
                                  size_t b1, const Output& out) {
  const Problem& p = *s.p;
  const size_t d = s.d;
  const bool int8 = s.int8 && !s.int8_off.load(std::memory_order_relaxed);
  if (!int8) std::call_once(s.float_packed, [&] { pack_float(s); });
  const size_t nw = b1 - b0;
  if (ws.size() < nw) ws.resize(nw);
  std::vector<BlockRun> runs(nw);  // sized once: the sinks keep pointers to th
  for (size_t k = 0; k < nw; ++k) {
    Scratch& w = ws[k];
    if (int8 && !w.q8) {
      w.q8 = aligned_buffer<int32_t>(qb * s.groups);
      w.K = aligned_buffer<int32_t>(qb);
      w.off = aligned_buffer<int32_t>(qb);
      w.P = aligned_buffer<double>(qb);
      w.Pm = aligned_buffer<double>(qb);
    }
    if (!int8 && !w.qf) {
      w.qf = aligned_buffer<float>(qb * d);
      w.A = aligned_buffer<float>(qb);
      w.T = aligned_buffer<float>(qb);
    }
    BlockRun& r = runs[k];
    r.q0 = (b0 + k) * qb;
    r.nb = std::min(qb, s.nq - r.q0);
    const size_t nb_pad = (r.nb + kQueryPad - 1) / kQueryPad * kQueryPad;
    r.th.s = &s;
    r.th.w = &w;
    r.th.int8 = int8;
    prepare_block(s, w, r.q0, r.nb, nb_pad, int8, r.th);
    r.block.nq = nb_pad;
    r.block.qf = w.qf.get();
    r.block.A = w.A.get();
    r.block.T = w.T.get();
    r.block.q8 = w.q8.get();
    r.block.K = w.K.get();
    if (p.mode == Mode::kTopK) {
      r.topk = std::make_unique<TopKSink>(s, out, r.q0, r.nb, r.th);
      r.block.sink = r.topk.get();
    } else {
      RF_CHECK(out.row_of == nullptr, "counting searches keep the query order");
      for (size_t m = 0; m < r.nb; ++m) out.counts[r.q0 + m] = 0;
      r.count = std::make_unique<CountSink>(s, out, r.q0);
      r.block.sink = r.count.get();
    }
  }

  FloatPanels fp;
  Int8Panels ip;
  size_t tile = 0;
  if (int8) {
    ip.panels = s.ipanels.get();
    ip.init = s.init.get();
    ip.groups = s.groups;
    tile = std::max<size_t>(2, (256 * 1024) / (64 * s.groups));
  } else {
    fp.panels = s.fpanels.get();
    fp.B = s.fB.get();
    fp.R = s.fR.get();
    fp.d = d;
    tile = std::max<size_t>(2, (256 * 1024) / (64 * std::max<size_t>(d, 1)));
  }
  tile += tile % 2;
  for (size_t t0 = 0; t0 < s.n_panels; t0 += tile) {
    const size_t t1 = std::min(s.n_panels, t0 + tile);
    for (BlockRun& r : runs) {
      if (int8) {
#ifdef RF_KNN_X86
        kernel_vnni(r.block, ip, t0, t1);
#else
        RF_CHECK(false, "int8 screen without x86 support");
#endif
      } else {
        s.float_kernel(r.block, fp, t0, t1);
      }
    }
  }

  // Re-ranks beyond what a perfect screen would need: k (1 + ln(n / k)) per query for k-NN
  // (the k-th distance tightens as rows stream by), the rows found for counts.
  std::vector<BlockResult> results(nw);
  for (size_t k = 0; k < nw; ++k) {
    BlockRun& r = runs[k];
    BlockResult& res = results[k];
    res.queries = r.nb;
    double needed = 0.0;
    if (r.topk) {
      r.topk->finish();
      res.checks = r.topk->checks;
      const double kk = static_cast<double>(p.k);
      needed = static_cast<double>(r.nb) * kk *
               (1.0 + std::log(std::max(1.0, static_cast<double>(s.n) / kk)));
    } else {
      r.count->flush();
      res.checks = r.count->checks;
      for (size_t m = 0; m < r.nb; ++m) needed += static_cast<double>(out.counts[r.q0 + m]);
    }
    res.excess_rate = (static_cast<double>(res.checks) - needed) / static_cast<double>(r.nb * s.n);
  }
  return results;
}

// ---- self-join: every unordered pair screened once ------------------------------------------
//
// For self_query the pair (i, j) serves both rows: screened once, re-ranked once, offered to
// both heaps. Rows are cut into blocks of kJoinPanels panels; block pairs run in rounds of a
// round-robin schedule (circle method), so the pairs of one round share no block and the
// thread running a pair owns both blocks' heaps and thresholds: no locks, no races. Each row is
// kept in int8 form both ways: as a reference lane (panels, init) and as a query (q8 signed
// bytes, P, off). With Pf_i = floor(P_i(T_i) / 2s^2 - margin) (clamped at -2^29 for T = inf):
//   i screens j     <=>  acc >= K_i,        K_i = Pf_i + off_i
//   j screens i     <=>  acc >= V_j + W_i,  V_j = Pf_j + init_j,  W_i = off_i - init_i
// where acc = init_j + <a_i, a_j + 128> is what the kernel accumulates for query i, lane j.
// Ranges (d <= 4096): <a_i, a_j> and off within +-2^26, init within [-2^25, 2], so acc is within
// +-2^28 and Pf = -2^29 passes every pair; V + W stays inside int32 even for padding lanes
// (V = 2^30, never passes). A pilot block (the plain search of the first queries) decides
// whether the int8 screen is tight enough for the join (join_break_even); if not, the plain
// search runs on the float screen.

constexpr size_t kJoinPanels = 12;         // rows per block: 192
constexpr size_t kJoinMinRows = 1024;      // below this the plain search is as fast
constexpr size_t kSortQueriesFrom = 1024;  // plain search: order the queries from this many
constexpr size_t kQueryBlock = 96;         // the plain search's largest block of queries
constexpr size_t kWaveQueries = 16384;     // the plain search's largest wave (run_wave)
constexpr int32_t kJoinLo = -(1 << 29);    // Pf for T = inf: every pair passes
constexpr int32_t kJoinNever = 1 << 30;    // V of padding lanes

struct Join {
  Search* s = nullptr;
  size_t n_pad = 0;
  Buffer<int32_t> q8, K, V, W, off;
  Buffer<double> P, Pm;
  std::vector<TopK> heaps;
  std::vector<double> worst;  ///< heaps[i].worst() once full, else +inf
  size_t k = 0;

  void set(size_t i, double t) {
    int32_t pf = kJoinLo;
    if (!std::isinf(t)) {
      const double tt = t * (1.0 + 1e-12);
      pf = floor_clamped((P[i] - tt) * s->inv2s2, Pm[i] + 1e-9 * tt * s->inv2s2, kJoinLo, kInitMax);
    }
    K[i] = pf + off[i];
    V[i] = pf + s->init[i];
  }
};

class JoinSink final : public HitSink {
 public:
  explicit JoinSink(Join& j) : j_(j) {}

  bool diagonal = false;
  size_t checks = 0;

 protected:
  // No prefetching here (unlike the plain search): both rows of every pair belong to the two
  // blocks of 192 rows being joined, which stay in L1/L2 while the pair of blocks runs.
  __attribute__((noinline)) void process(const Hit* hits, size_t n) override {
    const Search& s = *j_.s;
    for (size_t h = 0; h < n; ++h) {
      const size_t i = hits[h].m;  // the kernel passes the row itself
      if (i >= s.n) continue;      // padding query
      const double* x = s.ref_row(i);
      for (uint32_t mask = hits[h].mask; mask; mask &= mask - 1) {
        const size_t j = hits[h].panel * kLanes + static_cast<size_t>(__builtin_ctz(mask));
        if (j >= s.n) break;
        if (diagonal && j <= i) continue;  // the block against itself: each pair once
        ++checks;
        const double dist = sq_dist(x, s.ref_row(j), s.d);
        offer(i, dist, j);
        offer(j, dist, i);
      }
    }
  }

 private:
  // worst[] (one cache line per row, not the heap's) rules most offers out.
  void offer(size_t row, double dist, size_t other) {
    if (!(dist <= j_.worst[row])) return;
    TopK& h = j_.heaps[row];
    if (h.offer(dist, j_.s->p->id_of(other)) && h.full()) {
      j_.worst[row] = h.worst();
      j_.set(row, h.worst());
    }
  }

  Join& j_;
};

#ifdef RF_KNN_X86
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vnni")

/// Queries row0..row0+7 (one half panel) against panels p..p+kP-1, screening both ways.
template <size_t kP>
inline void join_step(const Join& jn, size_t row0, size_t p, HitSink* sink) {
  constexpr size_t kM = 8;
  const Search& s = *jn.s;
  const size_t g4 = s.groups;
  const int32_t* q = jn.q8.get() + row0 * g4;
  const uint8_t* panel = s.ipanels.get() + p * g4 * 64;
  const size_t stride = g4 * 64;
  __m512i acc[kM][kP];
  __m512i init[kP];
#pragma GCC unroll 2
  for (size_t t = 0; t < kP; ++t) init[t] = _mm512_load_si512(s.init.get() + (p + t) * kLanes);
#pragma GCC unroll 8
  for (size_t m = 0; m < kM; ++m)
#pragma GCC unroll 2
    for (size_t t = 0; t < kP; ++t) acc[m][t] = init[t];
  for (size_t g = 0; g < g4; ++g) {
    __m512i rv[kP];
#pragma GCC unroll 2
    for (size_t t = 0; t < kP; ++t) rv[t] = _mm512_load_si512(panel + t * stride + g * 64);
#pragma GCC unroll 8
    for (size_t m = 0; m < kM; ++m) {
      const __m512i qv = _mm512_set1_epi32(q[m * g4 + g]);
#pragma GCC unroll 2
      for (size_t t = 0; t < kP; ++t) acc[m][t] = _mm512_dpbusd_epi32(acc[m][t], rv[t], qv);
    }
  }
#pragma GCC unroll 8
  for (size_t m = 0; m < kM; ++m) {
    const __m512i kv = _mm512_set1_epi32(jn.K[row0 + m]);
    const __m512i wv = _mm512_set1_epi32(jn.W[row0 + m]);
    uint32_t masks[kP];
    uint32_t any = 0;
#pragma GCC unroll 2
    for (size_t t = 0; t < kP; ++t) {
      const __m512i vv = _mm512_load_si512(jn.V.get() + (p + t) * kLanes);
      masks[t] = _mm512_cmpge_epi32_mask(acc[m][t], kv) |
                 _mm512_cmpge_epi32_mask(acc[m][t], _mm512_add_epi32(vv, wv));
      any |= masks[t];
    }
    if (any) {
      for (size_t t = 0; t < kP; ++t) {
        if (masks[t]) sink->hits(row0 + m, masks[t], p + t);
      }
    }
  }
}

/// Block a (queries) against block b (reference lanes).
void join_pair(const Join& jn, size_t a, size_t b, JoinSink& sink) {
  const Search& s = *jn.s;
  sink.diagonal = a == b;
  const size_t row_end = std::min(jn.n_pad, (a + 1) * kJoinPanels * kLanes);
  const size_t pb0 = b * kJoinPanels;
  const size_t pb1 = std::min(s.n_panels, pb0 + kJoinPanels);
  for (size_t row0 = a * kJoinPanels * kLanes; row0 < row_end; row0 += 8) {
    // Against itself, panels wholly before row0 hold only pairs seen from the other side.
    size_t p = sink.diagonal ? std::max(pb0, row0 / kLanes) : pb0;
    for (; p + 2 <= pb1; p += 2) join_step<2>(jn, row0, p, &sink);
    if (p < pb1) join_step<1>(jn, row0, p, &sink);
  }
  sink.flush();  // the pair's rows belong to this thread only until it returns
}

#pragma GCC pop_options
#else
void join_pair(const Join&, size_t, size_t, JoinSink&) {
  RF_CHECK(false, "int8 self-join without x86 support");
}
#endif  // RF_KNN_X86

/// The self-join on the int8 screen (requires s.int8, kTopK, p.self_join). Returns the number
/// of exact re-ranks.
size_t self_join(Search& s, const Output& out) {
  const Problem& p = *s.p;
  Join jn;
  jn.s = &s;
  jn.n_pad = s.n_panels * kLanes;
  const size_t n_pad = jn.n_pad;
  jn.q8 = aligned_buffer<int32_t>(n_pad * s.groups);
  jn.K = aligned_buffer<int32_t>(n_pad);
  jn.V = aligned_buffer<int32_t>(n_pad);
  jn.W = aligned_buffer<int32_t>(n_pad);
  jn.off = aligned_buffer<int32_t>(n_pad);
  jn.P = aligned_buffer<double>(n_pad);
  jn.Pm = aligned_buffer<double>(n_pad);
  jn.heaps.reserve(s.n);
  jn.worst.assign(s.n, std::numeric_limits<double>::infinity());
  jn.k = p.k;
  for (size_t i = 0; i < s.n; ++i)
    jn.heaps.emplace_back(out.sq + out.row(i) * p.k, out.idx + out.row(i) * p.k, p.k);

  constexpr size_t kChunk = 4096;
  parallel_for((n_pad + kChunk - 1) / kChunk, p.threads, [&](size_t c, int) {
    for (size_t i = c * kChunk; i < std::min(n_pad, (c + 1) * kChunk); ++i) {
      int32_t* q = jn.q8.get() + i * s.groups;
      std::fill(q, q + s.groups, 0);
      if (i >= s.n) {  // padding: never screens, never screened
        jn.K[i] = std::numeric_limits<int32_t>::max();
        jn.V[i] = kJoinNever;
        jn.W[i] = 0;
        continue;
      }
      const QueryCodes qc = code_query(s, s.ref_row(i), q);
      jn.P[i] = qc.norm - qc.slack;
      jn.Pm[i] = 1e-9 * (qc.norm + qc.slack) * s.inv2s2;
      jn.off[i] = static_cast<int32_t>(128 * qc.sum);
      jn.W[i] = jn.off[i] - s.init[i];
      jn.set(i, std::numeric_limits<double>::infinity());
    }
  });

  const size_t n_blocks = (s.n_panels + kJoinPanels - 1) / kJoinPanels;
  std::vector<JoinSink> sinks;
  sinks.reserve(static_cast<size_t>(p.threads));
  for (int t = 0; t < p.threads; ++t) sinks.emplace_back(jn);
  // Round 0: every block against itself. Then the circle method over an even count.
  parallel_for(n_blocks, p.threads,
               [&](size_t a, int w) { join_pair(jn, a, a, sinks[static_cast<size_t>(w)]); });
  const size_t players = n_blocks + n_blocks % 2;
  // Progress in rows: the share of the rounds done (each round is about the same work).
  auto report = [&](size_t rounds_done) {
    if (p.progress) p.progress->set(s.n * rounds_done / players);
  };
  report(1);
  for (size_t r = 0; r + 1 < players; ++r) {
    parallel_for(players / 2, p.threads, [&](size_t t, int w) {
      size_t a = 0, b = 0;
      if (t == 0) {
        a = players - 1;
        b = r;
      } else {
        a = (r + t) % (players - 1);
        b = (r + players - 1 - t) % (players - 1);
      }
      if (a >= n_blocks || b >= n_blocks) return;  // the dummy player of an odd count
      join_pair(jn, a, b, sinks[static_cast<size_t>(w)]);
    });
    report(r + 2);
  }
  size_t checks = 0;
  for (const JoinSink& sk : sinks) checks += sk.checks;
  parallel_for((s.n + kChunk - 1) / kChunk, p.threads, [&](size_t c, int) {
    for (size_t i = c * kChunk; i < std::min(s.n, (c + 1) * kChunk); ++i) {
      TopK& h = jn.heaps[i];
      RF_CHECK(h.full(), "self-join found {} of {} neighbours", h.size(), p.k);
      h.sort_ascending();
    }
  });
  return checks;
}

JoinPolicy& join_policy() {
  static JoinPolicy policy = JoinPolicy::kAuto;
  return policy;
}

std::mutex& stats_mutex() {
  static std::mutex m;
  return m;
}

BruteStats& stats_slot() {
  static BruteStats s;
  return s;
}

}  // namespace

/// A kd-style order of n rows: recursive splits at the median of the column of largest spread,
/// down to pieces of `leaf` rows (cuts fall on multiples of `leaf`). For the self-join (leaf =
/// one join block) the rows of a block are near one another, so round 0 (each block against
/// itself) already gives every row close candidates: tight thresholds from the start, fewer
/// re-ranks, and re-ranks whose rows are in cache; for many queries (leaf = one query block)
/// a block's re-ranks touch nearby rows. The split column is chosen on up to 256 rows of the
/// range; ties are ordered by row index: deterministic.
template <class RowOf>
std::vector<int64_t> spatial_order(size_t n, size_t d, RowOf row, size_t leaf) {
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), int64_t{0});
  std::vector<std::pair<size_t, size_t>> todo{{0, n}};
  std::vector<std::pair<double, int64_t>> keyed;
  constexpr size_t kSpreadRows = 256;  // rows of a range that choose its split column
  while (!todo.empty()) {
    const auto [lo, hi] = todo.back();
    todo.pop_back();
    if (hi - lo <= leaf) continue;
    const size_t step = std::max<size_t>(1, (hi - lo) / kSpreadRows);
    size_t best = 0;
    double spread = -1.0;
    for (size_t j = 0; j < d; ++j) {
      double mn = std::numeric_limits<double>::infinity(), mx = -mn;
      for (size_t i = lo; i < hi; i += step) {
        const double v = row(static_cast<size_t>(order[i]))[j];
        mn = std::min(mn, v);
        mx = std::max(mx, v);
      }
      if (mx - mn > spread) {
        spread = mx - mn;
        best = j;
      }
    }
    const size_t half = (hi - lo) / 2;
    const size_t mid = lo + std::min((half + leaf - 1) / leaf * leaf, hi - lo - 1);
    // (value, row) pairs: contiguous for the selection, ties ordered by row.
    keyed.resize(hi - lo);
    for (size_t i = lo; i < hi; ++i)
      keyed[i - lo] = {row(static_cast<size_t>(order[i]))[best], order[i]};
    std::nth_element(keyed.begin(), keyed.begin() + static_cast<std::ptrdiff_t>(mid - lo),
                     keyed.end());
    for (size_t i = lo; i < hi; ++i) order[i] = keyed[i - lo].second;
    todo.emplace_back(lo, mid);
    todo.emplace_back(mid, hi);
  }
  return order;
}

static void run_search(const Problem& p, const Output& out);

void brute_search(const Problem& p, const Output& out) {
  const size_t n = p.reference.rows, d = p.reference.cols;
  // The self-join runs on a spatially ordered copy of the rows (spatial_order); results are
  // reported under the original indices, ties ordered by them, so nothing visible changes.
  if (p.self_join && p.mode == Mode::kTopK && p.ids == nullptr && out.row_of == nullptr &&
      n >= kJoinMinRows && d > 0 && d <= kMaxInt8Dims && active_simd() == Simd::kAvx512Vnni &&
      join_policy() != JoinPolicy::kNever) {
    const std::vector<int64_t> order = spatial_order(
        n, d, [&](size_t i) { return p.reference.row(i); }, kJoinPanels * kLanes);
    std::vector<double> rows(n * d);
    constexpr size_t kChunk = 8192;
    parallel_for((n + kChunk - 1) / kChunk, p.threads, [&](size_t c, int) {
      for (size_t i = c * kChunk; i < std::min(n, (c + 1) * kChunk); ++i)
        std::memcpy(rows.data() + i * d, p.reference.row(static_cast<size_t>(order[i])),
                    d * sizeof(double));
    });
    std::vector<int64_t> self(n);
    std::iota(self.begin(), self.end(), int64_t{0});
    Problem q = p;
    q.reference = View(rows.data(), n, d);
    q.queries = q.reference;
    q.qrows = nullptr;
    q.self = self.data();
    q.ids = order.data();
    Output o = out;
    o.row_of = order.data();
    run_search(q, o);
    return;
  }
  // Many queries against the rows: blocks of queries that are near one another re-rank rows
  // that are near one another, which the cache then holds (about 7% on 10,000 x 1,000,000).
  if (p.mode == Mode::kTopK && !p.self_join && out.row_of == nullptr &&
      p.n_queries >= kSortQueriesFrom && d > 0) {
    const std::vector<int64_t> order = spatial_order(
        p.n_queries, d, [&](size_t i) { return p.query_row(i); }, kQueryBlock);
    std::vector<int64_t> qrows(p.n_queries), self(p.self ? p.n_queries : 0);
    for (size_t i = 0; i < p.n_queries; ++i) {
      const size_t o = static_cast<size_t>(order[i]);
      qrows[i] = p.qrows ? p.qrows[o] : static_cast<int64_t>(o);
      if (p.self) self[i] = p.self[o];
    }
    Problem q = p;
    q.qrows = qrows.data();
    q.self = p.self ? self.data() : nullptr;
    Output o = out;
    o.row_of = order.data();
    run_search(q, o);
    return;
  }
  run_search(p, out);
}

/// The int8 screen's clip C (see the top of this file). C = M = max|c| clips nothing, but where
/// a few values lie far out, s = M / 127 makes every row's codes coarse and the screen loose (on
/// log-normal columns so loose that the search fell back to the float screen). C is the
/// (1 - kClipRows) quantile of the rows' largest |centred value| (up to 4,096 evenly spaced
/// reference rows and as many queries), kept at M when that is within 10 % of it and at least
/// M / 256 (clipping more would leave too little of the data's spread). The clip
/// leaves every int32 of the screen in the ranges of the unclipped screen, except the balls'
/// radii: C >= 127 sqrt(max radius^2 / 2^28) keeps radius^2 / 2s^2 <= 2^27. Deterministic;
/// results do not depend on it.
double choose_clip(const Search& s) {
  const Problem& p = *s.p;
  const double m = s.max_abs;
  std::vector<double> tops;
  auto sample = [&](size_t rows, auto&& row_of) {
    const size_t stride = std::max<size_t>(1, rows / 4096);
    for (size_t i = 0; i < rows; i += stride) {
      const double* r = row_of(i);
      double t = 0.0;
      for (size_t j = 0; j < s.d; ++j) t = std::max(t, std::fabs(r[j] - s.mean[j]));
      tops.push_back(t);
    }
  };
  sample(s.n, [&](size_t i) { return s.ref_row(i); });
  sample(s.nq, [&](size_t i) { return p.query_row(i); });
  const size_t at = static_cast<size_t>((1.0 - kClipRows) * static_cast<double>(tops.size() - 1));
  std::nth_element(tops.begin(), tops.begin() + static_cast<std::ptrdiff_t>(at), tops.end());
  double floor_c = m / 256;  // clipping more leaves too little of the data's spread
  if (s.balls) {
    double r2 = 0.0;
    for (size_t i = 0; i < s.n; ++i) r2 = std::max(r2, p.radii2[i]);
    floor_c = std::max(floor_c, 127.0 * std::sqrt(r2 / 268435456.0));  // r^2 / 2s^2 <= 2^27
  }
  const double c = std::max(tops[at], floor_c);
  return c >= 0.9 * m ? std::max(c, m) : c;  // above m only for balls wider than the data
}

static void run_search(const Problem& p, const Output& out) {
  Search s;
  s.p = &p;
  s.n = p.reference.rows;
  s.d = p.reference.cols;
  s.nq = p.n_queries;
  s.balls = p.mode == Mode::kBalls;
  s.n_panels = (s.n + kLanes - 1) / kLanes;
  RF_CHECK(s.n > 0, "brute force needs reference rows");
  const size_t d = s.d;

  // Centre; the largest |centred value| sets the float scale and the int8 step. One parallel
  // pass over the reference gives each column's sum, minimum and maximum (chunks merged in
  // order: the same mean for any thread count), and max |x - mean| is taken at the extremes
  // (rounding is monotonic, so that is the largest over all rows); the queries give their own
  // extremes.
  struct Extremes {
    std::vector<double> lo, hi, sum;
  };
  constexpr size_t kRowChunk = 8192;
  auto extremes = [&](size_t rows, auto&& row_of) {
    const size_t n_chunks = (rows + kRowChunk - 1) / kRowChunk;
    const double inf = std::numeric_limits<double>::infinity();
    std::vector<Extremes> part(n_chunks);
    parallel_for(n_chunks, p.threads, [&](size_t c, int) {
      Extremes& x = part[c];
      x.lo.assign(d, inf);
      x.hi.assign(d, -inf);
      x.sum.assign(d, 0.0);
      for (size_t i = c * kRowChunk; i < std::min(rows, (c + 1) * kRowChunk); ++i) {
        const double* r = row_of(i);
        for (size_t j = 0; j < d; ++j) {
          x.lo[j] = std::min(x.lo[j], r[j]);
          x.hi[j] = std::max(x.hi[j], r[j]);
          x.sum[j] += r[j];
        }
      }
    });
    Extremes all;
    all.lo.assign(d, inf);
    all.hi.assign(d, -inf);
    all.sum.assign(d, 0.0);
    for (const Extremes& x : part)
      for (size_t j = 0; j < d; ++j) {
        all.lo[j] = std::min(all.lo[j], x.lo[j]);
        all.hi[j] = std::max(all.hi[j], x.hi[j]);
        all.sum[j] += x.sum[j];
      }
    return all;
  };
  const Extremes ref = extremes(s.n, [&](size_t i) { return s.ref_row(i); });
  s.mean.assign(d, 0.0);
  for (size_t j = 0; j < d; ++j) s.mean[j] = ref.sum[j] / static_cast<double>(s.n);
  auto widest = [&](const Extremes& x) {
    double mx = 0.0;
    for (size_t j = 0; j < d; ++j)
      mx = std::max({mx, std::fabs(x.lo[j] - s.mean[j]), std::fabs(x.hi[j] - s.mean[j])});
    return mx;
  };
  s.max_abs = widest(ref);
  if (s.nq > 0)
    s.max_abs =
        std::max(s.max_abs, widest(extremes(s.nq, [&](size_t i) { return p.query_row(i); })));

  int e = 0;
  if (s.max_abs > 0) std::frexp(s.max_abs, &e);
  s.scale = std::ldexp(1.0, -e);
  s.exp2 = -2 * e;
  s.all_pairs = s.max_abs > 0 && e < -400;  // squared distances would underflow in double
  s.tol = 2.0 * static_cast<double>(d + 8) * std::ldexp(1.0, -24);
  const Simd simd = active_simd();
  s.float_kernel = pick_float_kernel(simd, s.balls);

  s.int8 = simd == Simd::kAvx512Vnni && d > 0 && d <= kMaxInt8Dims && s.max_abs >= 1e-100 &&
           s.max_abs <= 1e100;
  if (s.int8) {
    s.clip = choose_clip(s);
    s.step = s.clip / 127.0;
    s.inv2s2 = 1.0 / (2.0 * s.step * s.step);
    s.groups = (d + 3) / 4;
    pack_int8(s);
  } else {
    std::call_once(s.float_packed, [&] { pack_float(s); });
  }

  // Block sizes: a block's query data stays in L1, a tile of panels in L2.
  size_t qb = std::min<size_t>(kQueryBlock,
                               std::max<size_t>(kQueryPad, 24576 / (4 * std::max<size_t>(d, 1))));
  qb = qb / kQueryPad * kQueryPad;
  const size_t per_thread = (s.nq + static_cast<size_t>(p.threads) - 1) / p.threads;
  qb = std::min(qb, std::max(kQueryPad, (per_thread + kQueryPad - 1) / kQueryPad * kQueryPad));
  const size_t n_blocks = (s.nq + qb - 1) / qb;

  BruteStats st;
  st.simd = simd;
  st.int8 = s.int8;
  st.clip_ratio = s.int8 ? s.max_abs / s.clip : 1.0;
  st.pairs = s.nq * s.n;
  const size_t threads = static_cast<size_t>(std::max(1, p.threads));
  std::vector<std::vector<Scratch>> scratch(threads);
  bool joined = false;
  if (p.self_join && p.mode == Mode::kTopK && s.int8 && s.n >= kJoinMinRows) {
    // A pilot block (kept apart; its rows are searched again) tells whether int8 screens well.
    std::vector<double> pilot_sq(qb * p.k);
    std::vector<int64_t> pilot_idx(qb * p.k);
    Output pilot;
    pilot.sq = pilot_sq.data();
    pilot.idx = pilot_idx.data();
    const BlockResult r = run_wave(s, scratch[0], qb, 0, 1, pilot)[0];
    const bool loose = r.excess_rate > join_break_even(d);
    if (join_policy() == JoinPolicy::kNever || (loose && join_policy() == JoinPolicy::kAuto)) {
      if (loose) s.int8_off = true;
    } else {
      st.checks = self_join(s, out);
      st.pairs = s.n * (s.n - 1) / 2;
      st.self_join = true;
      joined = true;
    }
  }
  if (!joined) {
    // The first block of each thread runs alone: a screen that does not pay (int8 too loose on
    // this data) is seen before the rest commits to it. The other blocks run in waves, about
    // one per thread (at most kWaveQueries queries each). The screen is judged on the excess
    // re-ranks of the first blocks together, then of each wave: a block of outlying queries
    // (the queries are in spatial order) does not switch the rest of the search by itself.
    std::atomic<size_t> total_checks{0};
    auto account = [&](const std::vector<BlockResult>& rs) {
      double excess = 0.0, weight = 0.0;
      for (const BlockResult& r : rs) {
        excess += r.excess_rate * static_cast<double>(r.queries);
        weight += static_cast<double>(r.queries);
        total_checks.fetch_add(r.checks, std::memory_order_relaxed);
        if (p.progress) p.progress->advance(r.queries);
      }
      if (weight > 0 && excess / weight > int8_break_even(d))
        s.int8_off.store(true, std::memory_order_relaxed);
    };
    const size_t first = std::min(n_blocks, threads);
    std::vector<BlockResult> firsts(first);
    parallel_for(first, p.threads, [&](size_t b, int worker) {
      firsts[b] = run_wave(s, scratch[static_cast<size_t>(worker)], qb, b, b + 1, out)[0];
    });
    account(firsts);
    const size_t rest = n_blocks - first;
    const size_t per = std::max<size_t>(
        1, std::min((rest + threads - 1) / threads, std::max<size_t>(1, kWaveQueries / qb)));
    parallel_for((rest + per - 1) / per, p.threads, [&](size_t wave, int worker) {
      const size_t b0 = first + wave * per;
      account(run_wave(s, scratch[static_cast<size_t>(worker)], qb, b0,
                       std::min(n_blocks, b0 + per), out));
    });
    st.checks = total_checks.load();
  }
  st.int8_abandoned = s.int8 && s.int8_off.load();
  std::lock_guard<std::mutex> lock(stats_mutex());
  stats_slot() = st;
}

JoinPolicy set_join_policy(JoinPolicy policy) {
  const JoinPolicy old = join_policy();
  join_policy() = policy;
  return old;
}

BruteStats last_brute_stats() {
  std::lock_guard<std::mutex> lock(stats_mutex());
  return stats_slot();
}

// ---- SIMD selection ------------------------------------------------------------------------

namespace {
Simd& simd_override() {
  static Simd s = detected_simd();
  return s;
}
}  // namespace

const char* to_string(Simd s) {
  switch (s) {
    case Simd::kGeneric:
      return "generic";
    case Simd::kAvx2:
      return "avx2";
    case Simd::kAvx512:
      return "avx512";
    case Simd::kAvx512Vnni:
      return "avx512-vnni";
  }
  return "?";
}

Simd detected_simd() {
#ifndef RF_KNN_X86
  return Simd::kGeneric;
#else
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) {
    if (__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vnni")) {
      return Simd::kAvx512Vnni;
    }
    return Simd::kAvx512;
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Simd::kAvx2;
  return Simd::kGeneric;
#endif
}

Simd active_simd() { return simd_override(); }

Simd override_simd(Simd s) {
  const Simd best = detected_simd();
  simd_override() = static_cast<int>(s) <= static_cast<int>(best) ? s : best;
  return simd_override();
}

}  // namespace rareforge::knn::detail
