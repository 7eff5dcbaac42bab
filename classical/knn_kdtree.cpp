// kd-tree search (nanoflann) with exact pruning and the (distance, index) tie rule.
//
// nanoflann keeps a point only if dist < worstDist() and prunes a subtree only if its
// (incrementally computed) box distance exceeds worstDist(). Our result sets report the current
// k-th distance widened by a relative 1e-10, so ties with the k-th neighbour and box distances
// off by rounding (relative error ~ depth * 2^-53) still get looked at; whether a point is kept
// is decided by TopK on the exact (distance, index) order.
//
// After the build, the points are copied in tree order and the tree's index array is made the
// identity, so leaves read contiguous memory; perm maps positions back to row indices.
#include <algorithm>
#include <limits>
#include <memory>
#include <vector>

#include <nanoflann.hpp>

#include "classical/knn_internal.h"
#include "core/error.h"

namespace rareforge::knn::detail {
namespace {

struct Points {
  const double* data = nullptr;
  size_t n = 0;
  size_t d = 0;

  size_t kdtree_get_point_count() const { return n; }
  double kdtree_get_pt(uint32_t i, int32_t j) const {
    return data[static_cast<size_t>(i) * d + static_cast<size_t>(j)];
  }
  template <class BBox>
  bool kdtree_get_bbox(BBox&) const {
    return false;
  }
};

struct Metric {
  using ElementType = double;
  using DistanceType = double;
  const Points& pts;

  explicit Metric(const Points& p) : pts(p) {}
  double evalMetric(const double* a, uint32_t b, size_t size) const {
    return sq_dist(a, pts.data + static_cast<size_t>(b) * pts.d, size);
  }
  template <class U, class V>
  double accum_dist(const U a, const V b, size_t) const {
    return (a - b) * (a - b);
  }
};

using Tree = nanoflann::KDTreeSingleIndexAdaptor<Metric, Points, -1, uint32_t>;

constexpr double kInf = std::numeric_limits<double>::infinity();

inline double widen(double w) { return w * (1.0 + 1e-10) + 1e-300; }

class TopKSet {
 public:
  using DistanceType = double;
  using IndexType = uint32_t;
  using CountType = size_t;

  TopKSet(TopK& heap, const int64_t* perm, int64_t self) : heap_(heap), perm_(perm), self_(self) {}
  bool full() const { return heap_.full(); }
  double worstDist() const { return bound_; }
  bool addPoint(double dist, uint32_t pos) {
    const int64_t idx = perm_[pos];
    if (idx != self_ && heap_.offer(dist, idx) && heap_.full()) bound_ = widen(heap_.worst());
    return true;
  }

 private:
  TopK& heap_;
  const int64_t* perm_;
  int64_t self_;
  double bound_ = kInf;
};

class CountSet {
 public:
  using DistanceType = double;
  using IndexType = uint32_t;
  using CountType = size_t;

  CountSet(const Problem& p, const int64_t* perm, int64_t self, double max_radius2)
      : p_(p), perm_(perm), self_(self), bound_(widen(max_radius2)) {}
  bool full() const { return true; }
  double worstDist() const { return bound_; }
  bool addPoint(double dist, uint32_t pos) {
    const int64_t idx = perm_[pos];
    if (idx == self_) return true;
    const double r2 = p_.mode == Mode::kBalls ? p_.radii2[idx] : p_.radius2;
    if (dist <= r2) ++count;
    return true;
  }
  int64_t count = 0;

 private:
  const Problem& p_;
  const int64_t* perm_;
  int64_t self_;
  double bound_;
};

/// Metric that counts its evaluations (for the cost probe).
struct CountingMetric : Metric {
  using Metric::Metric;
  mutable size_t evals = 0;
  double evalMetric(const double* a, uint32_t b, size_t size) const {
    ++evals;
    return Metric::evalMetric(a, b, size);
  }
};

using ProbeTree = nanoflann::KDTreeSingleIndexAdaptor<CountingMetric, Points, -1, uint32_t>;

}  // namespace

double kdtree_probe_evals(const double* sample, size_t m, size_t d, const double* queries,
                          size_t nq, size_t k, size_t leaf_size) {
  if (m == 0 || nq == 0 || d == 0) return 0.0;
  Points pts;
  pts.data = sample;
  pts.n = m;
  pts.d = d;
  ProbeTree tree(static_cast<int32_t>(d), pts,
                 nanoflann::KDTreeSingleIndexAdaptorParams(leaf_size));
  k = std::min(k, m);
  std::vector<uint32_t> idx(k);
  std::vector<double> dist(k);
  for (size_t i = 0; i < nq; ++i) {
    nanoflann::KNNResultSet<double, uint32_t> set(k);
    set.init(idx.data(), dist.data());
    tree.findNeighbors(set, queries + i * d, nanoflann::SearchParams());
  }
  return static_cast<double>(tree.distance.evals) / static_cast<double>(nq);
}

void kdtree_search(const Problem& p, size_t leaf_size, const Output& out) {
  const size_t n = p.reference.rows;
  const size_t d = p.reference.cols;
  RF_CHECK(n > 0 && d > 0, "kd-tree needs rows and features (got {} x {})", n, d);

  Points pts;
  pts.data = p.reference.data;
  pts.n = n;
  pts.d = d;
  Tree tree(static_cast<int32_t>(d), pts, nanoflann::KDTreeSingleIndexAdaptorParams(leaf_size));

  // Points in tree order (see the file comment).
  std::vector<int64_t> perm(n);
  std::unique_ptr<double[]> ordered(new double[n * d]);
  {
    const size_t kChunk = 16384;
    parallel_for((n + kChunk - 1) / kChunk, p.threads, [&](size_t c, int) {
      const size_t end = std::min(n, (c + 1) * kChunk);
      for (size_t i = c * kChunk; i < end; ++i) {
        const uint32_t src = tree.vAcc[i];
        perm[i] = src;
        std::copy_n(p.reference.row(src), d, ordered.get() + i * d);
      }
    });
    for (size_t i = 0; i < n; ++i) tree.vAcc[i] = static_cast<uint32_t>(i);
    pts.data = ordered.get();
  }

  double max_radius2 = p.radius2;
  if (p.mode == Mode::kBalls) {
    max_radius2 = *std::max_element(p.radii2, p.radii2 + n);
  }

  const size_t kChunk = 256;
  const nanoflann::SearchParams params(32, 0.0f, false);
  parallel_for((p.n_queries + kChunk - 1) / kChunk, p.threads, [&](size_t c, int) {
    const size_t end = std::min(p.n_queries, (c + 1) * kChunk);
    for (size_t i = c * kChunk; i < end; ++i) {
      const double* q = p.query_row(i);
      if (p.mode == Mode::kTopK) {
        TopK heap(out.sq + i * p.k, out.idx + i * p.k, p.k);
        TopKSet set(heap, perm.data(), p.self_of(i));
        tree.findNeighbors(set, q, params);
        RF_CHECK(heap.full(), "kd-tree found {} of {} neighbours", heap.size(), p.k);
        heap.sort_ascending();
      } else {
        CountSet set(p, perm.data(), p.self_of(i), max_radius2);
        tree.findNeighbors(set, q, params);
        out.counts[i] = set.count;
      }
    }
  });
}

}  // namespace rareforge::knn::detail
