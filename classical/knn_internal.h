// Internals of the k-NN engine (classical/knn.h) shared by knn.cpp, knn_brute.cpp and
// knn_kdtree.cpp. Not part of the public API; tests may use the SIMD override.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>

#include "classical/knn.h"
#include "core/progress.h"

namespace rareforge::knn::detail {

/// The one squared-distance formula (see knn.h). Inline for the kd-tree leaves; the knn sources
/// are compiled with -ffp-contract=off so no caller fuses it into FMAs differently.
inline double sq_dist(const double* a, const double* b, size_t d) {
  // Four independent partial sums (feature j goes to sum j % 4, in increasing j), combined as
  // (s0 + s1) + (s2 + s3): a quarter of the dependent-add latency of one running sum.
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  size_t j = 0;
  for (; j + 4 <= d; j += 4) {
    const double t0 = a[j] - b[j];
    const double t1 = a[j + 1] - b[j + 1];
    const double t2 = a[j + 2] - b[j + 2];
    const double t3 = a[j + 3] - b[j + 3];
    s0 += t0 * t0;
    s1 += t1 * t1;
    s2 += t2 * t2;
    s3 += t3 * t3;
  }
  if (j < d) {
    const double t = a[j] - b[j];
    s0 += t * t;
  }
  if (j + 1 < d) {
    const double t = a[j + 1] - b[j + 1];
    s1 += t * t;
  }
  if (j + 2 < d) {
    const double t = a[j + 2] - b[j + 2];
    s2 += t * t;
  }
  return (s0 + s1) + (s2 + s3);
}

/// (distance, index) lexicographic order: the tie rule.
inline bool before(double da, int64_t ia, double db, int64_t ib) {
  return da < db || (da == db && ia < ib);
}

/// Bounded max-heap of the k best (squared distance, index) pairs seen so far, on caller-owned
/// arrays of capacity k. The root is the worst kept pair.
class TopK {
 public:
  TopK(double* d, int64_t* idx, size_t k) : d_(d), i_(idx), k_(k) {}
  bool full() const { return n_ == k_; }
  size_t size() const { return n_; }
  /// Worst kept squared distance (valid when full()).
  double worst() const { return d_[0]; }
  /// Keep (dist, idx) if it is among the k best; returns true if kept.
  bool offer(double dist, int64_t idx);
  /// Sort the kept pairs ascending by (distance, index); the heap is unusable afterwards.
  void sort_ascending();

 private:
  double* d_;
  int64_t* i_;
  size_t k_;
  size_t n_ = 0;
};

/// What a search computes.
enum class Mode {
  kTopK,   ///< k nearest per query
  kCount,  ///< number of reference rows with squared distance <= radius2
  kBalls,  ///< number of reference rows j with squared distance <= radii2[j]
};

/// One checked search problem. Query i is row qrows[i] of `queries` (row i if qrows is null);
/// reference row self[i] is skipped for query i (nothing skipped if self is null or self[i] < 0).
struct Problem {
  View reference;
  View queries;
  const int64_t* qrows = nullptr;
  size_t n_queries = 0;
  const int64_t* self = nullptr;
  Mode mode = Mode::kTopK;
  size_t k = 0;                    ///< kTopK
  double radius2 = 0.0;            ///< kCount
  const double* radii2 = nullptr;  ///< kBalls: one per reference row
  int threads = 1;
  /// The queries are the reference rows themselves, in order, each skipping its own row
  /// (self_query): brute force may then screen each unordered pair once.
  bool self_join = false;
  /// Index reported (and used to order ties) for reference row j: ids[j], j if null. Set when
  /// brute force searches a reordered copy of the rows.
  const int64_t* ids = nullptr;
  /// Finished rows are reported here (ProgressScope), if set: queries, or for the self-join the
  /// share of its rounds done times the rows.
  Progress* progress = nullptr;

  const double* query_row(size_t i) const {
    return queries.row(qrows ? static_cast<size_t>(qrows[i]) : i);
  }
  int64_t self_of(size_t i) const { return self ? self[i] : -1; }
  int64_t id_of(size_t j) const { return ids ? ids[j] : static_cast<int64_t>(j); }
};

/// Outputs, sized by the caller: kTopK fills sq (squared distances) and idx, n_queries * k,
/// sorted per query; kCount / kBalls fill counts (n_queries).
struct Output {
  double* sq = nullptr;
  int64_t* idx = nullptr;
  int64_t* counts = nullptr;
  /// Query i's results go to row row_of[i] (row i if null).
  const int64_t* row_of = nullptr;

  size_t row(size_t i) const { return row_of ? static_cast<size_t>(row_of[i]) : i; }
};

/// Brute-force screening kernels by instruction set, in increasing order of preference:
/// portable float, AVX2+FMA float, AVX-512 float, AVX-512 VNNI int8 (falls back to AVX-512
/// float where int8 screens poorly).
enum class Simd { kGeneric = 0, kAvx2 = 1, kAvx512 = 2, kAvx512Vnni = 3 };
void brute_search(const Problem& p, const Output& out);

/// What the last brute_search in this process did (for benchmarks and tests; not thread-safe
/// across concurrent searches).
struct BruteStats {
  Simd simd{};                  ///< kernel family requested
  bool int8 = false;            ///< the int8 screen was used for the first block
  bool int8_abandoned = false;  ///< ... and later blocks fell back to the float screen
  double clip_ratio = 1.0;      ///< int8: largest |centred value| / the clip (1: none clipped)
  bool self_join = false;       ///< each unordered pair screened once (self_query)
  size_t pairs = 0;             ///< query x reference pairs screened
  size_t checks = 0;            ///< pairs re-ranked exactly
};
BruteStats last_brute_stats();

/// Whether self_query may use the int8 self-join: when its pilot block says the int8 screen is
/// tight enough (kAuto), whenever int8 is available (kAlways; tests), or never. Returns the
/// previous policy. Not thread-safe; for tests and benchmarks.
enum class JoinPolicy { kAuto, kAlways, kNever };
JoinPolicy set_join_policy(JoinPolicy policy);
void kdtree_search(const Problem& p, size_t leaf_size, const Output& out);

/// Mean number of distance evaluations per query of a kd-tree k-NN search (leaf_size) over the
/// m x d row-major `sample`, for the nq x d row-major `queries`. Feeds kAuto's cost model.
double kdtree_probe_evals(const double* sample, size_t m, size_t d, const double* queries,
                          size_t nq, size_t k, size_t leaf_size);

/// Run fn(task, worker) for task in [0, n_tasks) on up to `threads` threads (worker in
/// [0, threads)), handing out tasks in order from a shared counter. Rethrows the first
/// exception after all workers stop.
void parallel_for(size_t n_tasks, int threads, const std::function<void(size_t, int)>& fn);

const char* to_string(Simd s);
/// Best kernel this CPU runs.
Simd detected_simd();
/// The kernel brute_search uses: detected_simd() unless overridden (tests, benchmarks). The
/// override is clamped to what the CPU supports; returns the kernel now in use.
Simd active_simd();
Simd override_simd(Simd s);

}  // namespace rareforge::knn::detail
