// Maximum mean discrepancy between two samples, computed in tiles: exact, memory linear in rows.
//
// Data layout: X (m x d, the real rows) and Y (n x d, the synthetic rows) are row-major; row i
// of X is X.data()[i * d .. i * d + d). The caller standardises and one-hot encodes
// (validation.h does: every encoded column centred and scaled by the real rows' mean and standard
// deviation).
//
// Kernel. Gaussian RBF k_s(a, b) = exp(-|a - b|^2 / (2 s^2)).
//   * bandwidth s: the median heuristic, s = median Euclidean distance between distinct rows of
//     the pooled sample (numpy's median: the mean of the two middle values for an even count).
//     With more than `median_rows` pooled rows the median is taken over a seeded subsample of
//     `median_rows` rows (without replacement); s = 1 when that median is 0.
//   * multi-bandwidth: the mean of k_{s c} over c^2 in {1/4, 1/2, 1, 2, 4}, i.e. bandwidths
//     s/2, s/sqrt 2, s, s sqrt 2, 2s. Computed from one exponential per pair: with
//     u = exp(-|a-b|^2 / (8 s^2)), the five kernels are u^16, u^8, u^4, u^2, u.
// Estimator: the unbiased MMD^2_u of Gretton et al. (2012), needing m, n >= 2:
//   1/(m(m-1)) sum_{i != j} k(x_i, x_j) + 1/(n(n-1)) sum_{i != j} k(y_i, y_j)
//     - 2/(mn) sum_{i, j} k(x_i, y_j).
// Tiles. Squared distances come from |a|^2 + |b|^2 - 2 a.b (clamped at 0) over tiles of
// `tile` x `tile` rows; the X-X and Y-Y sums visit each unordered pair once. Each tile row's
// partial sums are kept and added in tile order, so the result does not depend on the thread
// count, and it equals the untiled reference (mmd_reference) to ~1e-12 relative.
// Speed: the inner loops are compiled for AVX-512, AVX2+FMA and baseline x86-64 (GCC
// target_clones; chosen at load time); the exponential is a branch-free polynomial (< 2 ulp).
//
// Permutation test (permutations > 0): the pooled rows (a seeded subsample of at most
// `perm_rows` rows per sample when larger) are relabelled at random `permutations` times and
// MMD^2_u (single bandwidth s) recomputed from the pooled kernel matrix (perm_rows^2 doubles);
// p = (1 + #{permuted >= observed}) / (1 + permutations), where `observed` is the subsample's
// statistic. With m, n <= perm_rows every row takes part.
#pragma once

#include <string>
#include <vector>

#include <cstddef>
#include <cstdint>

#include "core/rng.h"
#include "core/table.h"

namespace rareforge::validation {

/// Rows of a standardised one-hot matrix kept by kind, for faster kernel sums: the numeric
/// columns as they are, and per categorical column the category code (-1 = missing). With w[c][k]
/// = 1 / sd^2 of category k's standardised one-hot column, the one-hot block of column c adds
/// [code_a != code_b] (w[c][code_a] + w[c][code_b]) to a squared distance (a missing code weighs
/// 0) — what the dense one-hot columns add, at one comparison per column instead of one
/// multiply-add per category.
struct MixedRows {
  MatrixRM numeric;  ///< rows x numeric columns
  MatrixRM codes;    ///< rows x categorical columns: codes as doubles, -1 = missing
};
using CategoryWeights = std::vector<std::vector<double>>;

struct MmdOptions {
  /// Kernel bandwidth s; 0 = the median heuristic.
  double bandwidth = 0;
  /// Pooled rows the median heuristic looks at (seeded subsample beyond).
  size_t median_rows = 1000;
  /// Permutations for the p-value; 0 = none.
  int permutations = 100;
  /// Rows per sample in the permutation test (seeded subsample beyond).
  size_t perm_rows = 1000;
  /// Rows per tile side.
  size_t tile = 256;
  /// Worker threads; 0 = all hardware threads.
  int threads = 0;
  /// Where the kernel sums run: "cpu" or a device of the registered accelerator (accel.h).
  std::string device = "cpu";
  /// Optional: X and Y by kind (same rows, same distances) and the category weights; on the
  /// CPU the kernel sums then use mmd_sums_mixed. The median heuristic and the permutation test
  /// use X and Y.
  const MixedRows* mixed_x = nullptr;
  const MixedRows* mixed_y = nullptr;
  const CategoryWeights* weights = nullptr;
};

struct MmdResult {
  double bandwidth = 0;    ///< s
  double mmd2 = 0;         ///< MMD^2_u with bandwidth s
  double mmd2_multi = 0;   ///< MMD^2_u with the mean of the five kernels
  double p_value = -1;     ///< permutation p-value; -1 when permutations == 0
  int permutations = 0;    ///< permutations run
  size_t perm_rows_x = 0;  ///< rows of X / Y in the permutation test
  size_t perm_rows_y = 0;
};

/// The bandwidth by the median heuristic (see above).
double median_heuristic(const MatrixRM& X, const MatrixRM& Y, size_t median_rows, Rng& rng);

/// MMD^2_u of X (m x d) and Y (n x d); m, n >= 2, same d >= 1, finite values (InputError).
MmdResult mmd(const MatrixRM& X, const MatrixRM& Y, const MmdOptions& opt, Rng& rng);

/// The three kernel sums with bandwidth s: sum_{i != j} k(x_i, x_j), sum_{i != j} k(y_i, y_j),
/// sum_{i, j} k(x_i, y_j), single [0..2] and multi-bandwidth [3..5], tiled as above.
void mmd_sums(const MatrixRM& X, const MatrixRM& Y, double s, size_t tile, int threads,
              double out[6]);

/// mmd_sums on rows kept by kind (MixedRows): the same sums as mmd_sums on the equivalent
/// dense standardised one-hot matrices, to rounding.
void mmd_sums_mixed(const MixedRows& X, const MixedRows& Y, const CategoryWeights& w, double s,
                    size_t tile, int threads, double out[6]);

/// Untiled brute-force reference (O(m n d) time, direct (a - b)^2 sums, std::exp): for tests.
void mmd_sums_reference(const MatrixRM& X, const MatrixRM& Y, double s, double out[6]);

/// MMD^2_u from the kernel sums (single: offset 0, multi: offset 3).
double mmd2_from_sums(const double sums[6], size_t m, size_t n, int offset);

namespace detail {
/// Tests: run the tile kernels compiled for baseline x86-64 (or the build's baseline) instead of
/// the AVX-512 / AVX2 clone the CPU would get. Returns the previous setting.
bool mmd_force_portable(bool on);
}  // namespace detail

}  // namespace rareforge::validation
