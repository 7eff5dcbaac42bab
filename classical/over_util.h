// Internals shared by the over-samplers (classical/oversamplers.cpp, smote.cpp, smoten.cpp,
// kmeans_smote.cpp). Not part of the public API; tests include it only for apportion().
//
// How an over-sampler runs (every method follows the same three steps):
//   1. prepare: plan the counts (core/strategy.h), find neighbours, danger sets, clusters ...
//      Matrices needed only for that are freed before step 2.
//   2. OverOutput allocates the output table once: the input rows (copied column by column
//      into vectors reserved for the final size), then one block of synthetic rows per class,
//      in class order. The target and the provenance of every row are set here.
//   3. the method fills each class block: the provenance (parent, neighbor, gap) of each new
//      row first, then the cells (interpolate() for numeric columns, vote() for categorical).
//
// Randomness: one root seed per class, derived from ctx.rng(streams::kSampler); inside a class
// the rows are made in chunks of kChunk rows, chunk j drawing from Rng::derive(class seed, j), so
// the output does not depend on the number of threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "classical/knn.h"
#include "classical/sampler.h"
#include "core/context.h"
#include "core/rng.h"
#include "core/strategy.h"
#include "core/table.h"

namespace rareforge::classical::over {

/// Rows per random chunk (see the header comment). Changing it changes the output bytes.
inline constexpr size_t kChunk = 4096;

/// Stream numbers under a class seed (chunks use 0 .. n_chunks-1).
inline constexpr uint64_t kVoteStream = 1ULL << 40;
inline constexpr uint64_t kNoiseStream = 2ULL << 40;
inline constexpr uint64_t kPrepStream = 3ULL << 40;

/// Run fn(task) for task in [0, n_tasks) on up to `threads` threads (dynamic scheduling). The
/// first exception thrown by a task is rethrown after every thread has stopped.
void parallel_for(size_t n_tasks, int threads, const std::function<void(size_t)>& fn);

/// Run fn(begin, end, rng) over [0, n) in chunks of kChunk, chunk j with
/// Rng::derive(seed, stream + j), in parallel.
void for_chunks(size_t n, uint64_t seed, uint64_t stream, int threads,
                const std::function<void(size_t, size_t, Rng&)>& fn);

/// The over-sampling plan for `t` (over-sampling kind; strategy and max_ratio of `req`).
SamplingPlan plan_over(const Table& t, const SamplingRequest& req);

/// Input row indices of each class, ascending.
std::vector<std::vector<int64_t>> rows_by_class(const Table& t);

/// Root seed of class c's draws for this resample call.
uint64_t class_seed(const Context& ctx, size_t c);

/// Feature columns of a table split by kind (indices into the table's columns).
struct Features {
  std::vector<size_t> num;
  std::vector<size_t> cat;
  /// "a, b, c" (the categorical column names), for messages.
  std::string cat_names(const Table& t) const;
};
Features split_features(const Table& t);

/// InputError (naming `method`, the column and the 1-based row, suggesting imputation) if a
/// numeric feature is NaN/Inf or a categorical feature is missing, in any row.
void check_complete(const Table& t, const std::vector<size_t>& cols, const std::string& method,
                    int threads);

/// Population standard deviation (ddof 0, as numpy's std) of numeric column `col` over `rows`.
double column_std(const Table& t, size_t col, const std::vector<int64_t>& rows);

/// SMOTE-NC's "Med" for the rows of one class: the median of the population standard deviations
/// of the numeric feature columns over those rows (even count: mean of the two middle values, as
/// numpy.median).
double median_std(const Table& t, const std::vector<size_t>& num, const std::vector<int64_t>& rows);

/// The distance space of the SMOTE family for `rows` (all rows when `all` is true):
/// the numeric feature values, then for each categorical feature column a one-hot block (one
/// column per category used by any row of the table) whose 1 entries are cat_value. With
/// cat_value = Med / sqrt(2) two rows that differ in one categorical column are Med^2 further
/// apart in squared Euclidean distance: Chawla et al.'s SMOTE-NC distance.
MatrixRM embed(const Table& t, const Features& f, const std::vector<int64_t>& rows, bool all,
               double cat_value, int threads);

/// embed()'s cat_value for a class whose rows are `med_rows`: median_std(med_rows) / sqrt(2) when
/// the table has categorical features, 0 otherwise.
double nc_cat_value(const Table& t, const Features& f, const std::vector<int64_t>& med_rows);

/// k for a class of n rows: k itself, or n - 1 with a warning (once per method/class/k) when the
/// class is too small. n must be >= 2.
size_t effective_k(size_t k, size_t n, const std::string& method, const std::string& class_name,
                   const char* param = "k");

/// InputError for a class of fewer than 2 rows that must grow by interpolation.
void require_two_rows(size_t n, const std::string& method, const std::string& class_name);

/// Split `total` into integer parts proportional to `weights` (>= 0, not all 0) that sum to
/// exactly `total`: the largest-remainder (Hamilton) method. Each part gets
/// floor(total * w_i / sum w); the rows still missing go one each to the largest fractional
/// parts, ties to the lower index.
std::vector<int64_t> apportion(const std::vector<double>& weights, int64_t total);

/// A run of consecutive output rows (a class's synthetic block or part of it).
struct Range {
  size_t begin = 0;
  size_t n = 0;
  Range sub(size_t offset, size_t count) const { return Range{begin + offset, count}; }
};

/// The output table under construction (see the header comment).
class OverOutput {
 public:
  /// `made[c]` synthetic rows of class c; `method` is the canonical spec for provenance.
  /// With `owned` (which must be &input), the input's columns and provenance are moved into the
  /// output and extended instead of copied; `input` must not be read afterwards (use input()).
  OverOutput(const Table& input, Table* owned, const std::vector<int64_t>& made,
             const std::string& method, int threads);

  Table& table() { return out_; }
  /// The input rows: the input table, or (owned) the first rows of the output.
  const Table& input() const { return *src_; }
  /// Class c's block of synthetic rows.
  Range block(size_t c) const { return Range{start_[c], static_cast<size_t>(made_[c])}; }
  int64_t* parent(const Range& r) { return out_.provenance().parent.data() + r.begin; }
  int64_t* neighbor(const Range& r) { return out_.provenance().neighbor.data() + r.begin; }
  double* gap(const Range& r) { return out_.provenance().gap.data() + r.begin; }

  /// Fill the numeric columns `cols` of the rows of `r` from their provenance:
  /// x = x[parent] + gap * (x[neighbor] - x[parent]), or a copy of x[parent] when neighbor < 0.
  void interpolate(const Range& r, const std::vector<size_t>& cols, int threads);

  /// As interpolate(), reading the values from `space` instead of the table: row a_local[i] /
  /// b_local[i] of `space` holds the seed / partner of row i of the range, and column q of
  /// `space` is column cols[q] (a class's embedding, whose numeric part comes first). Faster on
  /// large tables: the class's rows are contiguous there.
  void interpolate_local(const Range& r, const std::vector<size_t>& cols, const MatrixRM& space,
                         const int32_t* a_local, const int32_t* b_local, int threads);

  /// Copy the columns `cols` (any kind) of the rows of `r` from their parent rows.
  void copy_from_parent(const Range& r, const std::vector<size_t>& cols, int threads);

  /// Fill the categorical columns `cols` of the rows of `r` by majority vote. Row i of the range
  /// was made from nn row s = seed_row[i]; its voters are the input rows
  /// class_rows[nn.index(s, j)] for j < nn.k, plus the seed itself (input row seed_input[s]) when
  /// include_seed. Ties are broken uniformly at random (chunked draws from `seed`).
  void vote(const Range& r, const std::vector<size_t>& cols, const std::vector<int64_t>& class_rows,
            const std::vector<int64_t>& seed_input, const std::vector<int32_t>& seed_row,
            const knn::Result& nn, bool include_seed, uint64_t seed, int threads);

  ResampleResult finish();

 private:
  const Table* src_;
  Table out_;
  std::vector<int64_t> made_;
  std::vector<size_t> start_;
  std::vector<size_t> kept_;
};

/// Base of the over-samplers: resample() and resample_owned() both call run(), with `owned`
/// null or &input. run() must read the input only through OverOutput::input() once it has
/// built its OverOutput.
class OverSampler : public Sampler {
 public:
  ResampleResult resample(const Table& input, const SamplingRequest& req,
                          const Context& ctx) const final {
    return run(input, nullptr, req, ctx);
  }
  ResampleResult resample_owned(Table&& input, const SamplingRequest& req,
                                const Context& ctx) const final {
    return run(input, &input, req, ctx);
  }

 protected:
  virtual ResampleResult run(const Table& input, Table* owned, const SamplingRequest& req,
                             const Context& ctx) const = 0;
};

/// The SMOTE interpolation step shared by the SMOTE family, for the rows of `r`. The seeds are
/// the query rows of `nn`: nn row s is input row seed_input[s] and its neighbours are local
/// indices into class_rows (the same-class rows). For each new row: an nn row s drawn by
/// `pick_seed(rng, i)` (chunk generator, position i in the range), a partner drawn uniformly
/// among its nn.k neighbours, a gap uniform in [0, 1). Provenance gets input indices. Then the
/// numeric feature columns are interpolated and the categorical ones voted among the seed's
/// neighbours (the SMOTE-NC rule).
/// `space` (optional): the class's embedding (rows in class_rows order), used to read the values
/// (see OverOutput::interpolate_local); `seed_local` maps nn rows to class-local rows (identity
/// when null).
void smote_rows(OverOutput& out, const Range& r, const Features& f,
                const std::vector<int64_t>& class_rows, const std::vector<int64_t>& seed_input,
                const knn::Result& nn, const std::function<int32_t(Rng&, size_t)>& pick_seed,
                uint64_t seed, int threads, const MatrixRM* space = nullptr,
                const std::vector<int32_t>* seed_local = nullptr);

}  // namespace rareforge::classical::over
