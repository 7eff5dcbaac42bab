// Exact k-nearest-neighbour search: the one engine every classical sampler and cleaner, the
// validation metrics (DCR, PRDC) and the kNN classifier use.
//
// Metric: Euclidean. The squared distance between rows a and b is computed in double, by
// every code path, as
//   s_m = sum over j = m, m + 4, m + 8, ... < d, in that order, of (a[j] - b[j])^2  (m = 0..3)
//   squared distance = (s_0 + s_1) + (s_2 + s_3)
// (no fused multiply-adds), so the same pair always gets bit-identical distances;
// squared_distance() below is that formula.
//
// Exactness. Two algorithms, one answer:
//   * kd-tree (nanoflann) for low dimension; the pruning bound is widened by a relative 1e-10 so
//     floating-point rounding in the bound can never drop a true neighbour or a tie.
//   * blocked brute force otherwise: a fused SIMD kernel (int8 dot products on AVX-512 VNNI;
//     float on AVX-512, AVX2+FMA or portable code; chosen at run time) computes, from centred
//     and quantised data, a guaranteed lower bound of every squared distance (a rigorous bound
//     on the quantisation and rounding error is subtracted). Only pairs whose bound does not
//     exceed the query's current k-th best distance are re-ranked with the exact double
//     formula above; every true neighbour passes. self_query screens each unordered pair once
//     (on the int8 screen), on a copy of the rows in a kd-style spatial order; 1,024 or more
//     queries are searched in such an order too (results come back in the caller's order, under
//     the original indices). Memory: one packed copy of the reference (n_ref x d floats, or
//     bytes for int8), for self_query on the int8 screen also a reordered n x d double copy,
//     and per-thread buffers of <= 96 queries; never n_queries x n_ref.
//     classical/knn_brute.cpp states the bounds and layouts.
// Both give the same indices and the same distance bits as a brute-force double reference.
// Algo::kAuto picks the cheaper by a cost model (see Options::kdtree_max_dim); the choice never
// changes the result.
//
// Order and ties: the neighbours of each query are sorted by (squared distance, reference
// index) ascending. Ties in distance are broken by the smaller reference index, on every path
// and for any thread count. Duplicates of a point are ordinary neighbours at distance 0; only
// the query's own row (by index) is skipped when self-exclusion is asked for.
//
// Threads: work is split over blocks of queries (or of row pairs) with std::thread; results do
// not depend on the number of threads.
//
// Cost (AMD EPYC Zen 4 class, 2.6 GHz, per core; bench/bench_knn): brute force screens about
// 5e9 (int8) or 2e9 (float) pairs/s at 20 features; the kd-tree wins below ~6 features on
// i.i.d. data and at any dimension on data of low intrinsic dimension.
//
// Input checks (InputError): feature counts that differ, k == 0, k larger than the number of
// reference rows available (n_ref, or n_ref - 1 when the query's own row is excluded), and
// NaN/Inf or values beyond 1e150 in absolute value anywhere in the input (the message names the
// row and the feature, both 0-based, and suggests imputation).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/table.h"

namespace rareforge::knn {

/// A read-only row-major matrix: component j of row i is data[i * cols + j]. Cheap to copy;
/// does not own the data. A MatrixRM converts implicitly.
struct View {
  const double* data = nullptr;
  size_t rows = 0;
  size_t cols = 0;

  View() = default;
  View(const double* data_, size_t rows_, size_t cols_) : data(data_), rows(rows_), cols(cols_) {}
  View(const MatrixRM& m)  // NOLINT(google-explicit-constructor): views are meant to be implicit
      : data(m.data()), rows(static_cast<size_t>(m.rows())), cols(static_cast<size_t>(m.cols())) {}
  const double* row(size_t i) const { return data + i * cols; }
};

enum class Algo {
  kAuto,    ///< the cheaper of the two by a cost estimate (see Options::kdtree_max_dim)
  kKdTree,  ///< nanoflann kd-tree
  kBrute,   ///< blocked brute force (fused SIMD lower bound + exact double re-ranking)
};

const char* to_string(Algo algo);

struct Options {
  /// Worker threads; 0 = std::thread::hardware_concurrency().
  int threads = 0;
  /// query() only: the queries ARE the reference rows (same count), and query i skips
  /// reference row i. self_query() and query_rows() always exclude the query's own row.
  bool exclude_self = false;
  /// Which algorithm (see kdtree_max_dim for kAuto).
  Algo algo = Algo::kAuto;
  /// kAuto considers the kd-tree up to this many features (never when k > n_ref / 8). With 3
  /// or fewer features it takes the tree; between 4 and this, for k-NN searches worth more than
  /// a few milliseconds, it estimates both costs (the tree's by probing 64 queries against
  /// trees over subsamples) and takes the cheaper; otherwise the tree up to 6 features. On
  /// i.i.d. Gaussian data the crossover is about 6 features; data of low intrinsic dimension
  /// favour the tree at any dimension.
  size_t kdtree_max_dim = 16;
  /// kd-tree leaf size (nanoflann's leaf_max_size).
  size_t leaf_size = 16;
};

/// Result of a k-NN query. For query i, neighbour r (0 <= r < k) is reference row
/// indices[i * k + r] at Euclidean (not squared) distance distances[i * k + r]. Each query's
/// row of k neighbours is sorted by (squared distance, reference index) ascending. (Two
/// different squared distances may round to the same Euclidean distance; the order is the
/// order of the squared distances.)
struct Result {
  size_t n_queries = 0;
  size_t k = 0;
  std::vector<int64_t> indices;   ///< n_queries * k reference row indices
  std::vector<double> distances;  ///< n_queries * k Euclidean distances
  Algo algo = Algo::kAuto;        ///< the algorithm that ran (kKdTree or kBrute)

  int64_t index(size_t i, size_t r) const { return indices[i * k + r]; }
  double distance(size_t i, size_t r) const { return distances[i * k + r]; }
};

/// The k nearest reference rows of every query row. With opt.exclude_self, queries must have
/// as many rows as reference and query i never returns reference row i.
Result query(View reference, View queries, size_t k, const Options& opt = {});

/// The k nearest other rows of every row of `data` (queries = data, own row excluded by index,
/// so exact duplicates of a row are returned at distance 0). Requires k <= rows - 1.
Result self_query(View data, size_t k, const Options& opt = {});

/// The k nearest other rows, among all rows of `data`, of the rows listed in `rows` (query i is
/// data row rows[i]; it is excluded by index). E.g. the neighbours of the minority rows among
/// all rows (Borderline-SMOTE, ADASYN). Requires k <= data.rows - 1; rows must be in range.
Result query_rows(View data, const std::vector<int64_t>& rows, size_t k, const Options& opt = {});

/// Euclidean distance from each query to its nearest reference row (k = 1; e.g. DCR). Memory is
/// O(n_queries) whatever the sizes.
std::vector<double> nearest_distances(View reference, View queries, const Options& opt = {});

/// For each query, the number of reference rows within Euclidean distance `radius`: squared
/// distance (as computed above) <= radius * radius. opt.exclude_self as in query().
std::vector<int64_t> count_within(View reference, View queries, double radius,
                                  const Options& opt = {});

/// For each query, the number of reference rows j whose ball of radius radii[j] contains it:
/// squared distance <= radii[j] * radii[j]. radii has one entry per reference row, each finite
/// and >= 0. E.g. PRDC precision (count > 0) and density, with radii[j] = the distance from
/// real row j to its k-th nearest other real row (self_query(real, k).distance(j, k - 1)).
/// opt.exclude_self as in query().
std::vector<int64_t> count_within_balls(View reference, View queries,
                                        const std::vector<double>& radii, const Options& opt = {});

/// Squared Euclidean distance exactly as every path computes it (the formula at the top). For
/// callers that must match the engine bit for bit.
double squared_distance(const double* a, const double* b, size_t d);

/// Progress for long searches. While a ProgressScope lives on a thread, each brute-force search
/// started on that thread whose pairs x features reach `min_work` (about a few seconds of work;
/// SMOTE-ENN's self-join on a million rows, not Borderline-SMOTE's 10,000 x 1,000,000) shows a
/// Progress line on stderr, "<label> neighbours  done/total rows  %  elapsed, ETA" (core/
/// progress.h), unless `quiet`. Scopes nest (the innermost counts). `rareforge resample` opens
/// one named after the method; library callers that show their own progress open none.
class ProgressScope {
 public:
  ProgressScope(std::string label, bool quiet, double min_work = 1e12);
  ~ProgressScope();
  ProgressScope(const ProgressScope&) = delete;
  ProgressScope& operator=(const ProgressScope&) = delete;

  const std::string& label() const { return label_; }
  bool quiet() const { return quiet_; }
  double min_work() const { return min_work_; }
  /// The innermost scope on this thread, or null.
  static const ProgressScope* current();

 private:
  std::string label_;
  bool quiet_;
  double min_work_;
  const ProgressScope* outer_;
};

}  // namespace rareforge::knn
