// k-means clustering (Lloyd's algorithm with greedy k-means++ seeding), used by kmeans-smote.
//
// Seeding: k-means++ (Arthur and Vassilvitskii 2007) in scikit-learn's greedy form: the first
// centre is a uniformly drawn row; each next centre is the best, by resulting inertia, of
// 2 + floor(ln K) candidates drawn with probability proportional to the squared distance to the
// nearest centre chosen so far. If every row already coincides with a centre, seeding stops
// early and fewer than K clusters are returned.
// Iterations: assign each row to its nearest centre (squared Euclidean distance in double, ties
// to the lower centre index); move each centre to the mean of its rows (an empty cluster keeps
// its centre). Stop when no assignment changes, when the summed squared centre shift is at most
// tol * (mean variance of the features) (scikit-learn's rule), or after max_iter iterations.
// Deterministic for the generator's state, whatever the thread count: sums are accumulated per
// fixed block of rows and the blocks combined in order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "classical/knn.h"
#include "core/rng.h"
#include "core/table.h"

namespace rareforge::classical {

struct KMeansOptions {
  size_t n_clusters = 8;  ///< K (at most the number of rows)
  size_t max_iter = 300;  ///< Lloyd iterations at most
  double tol = 1e-4;      ///< relative centre-shift tolerance (see above)
  int threads = 0;        ///< worker threads; 0 = all hardware threads
};

struct KMeansResult {
  MatrixRM centers;             ///< n_clusters x d
  std::vector<int32_t> labels;  ///< cluster of each row, 0..n_clusters-1
  size_t iterations = 0;        ///< Lloyd iterations run
  double inertia = 0;           ///< sum of squared distances of rows to their centres
};

/// Cluster the rows of `x` (row-major, n x d, finite values, n >= 1).
KMeansResult kmeans(knn::View x, const KMeansOptions& opt, Rng& rng);

}  // namespace rareforge::classical
