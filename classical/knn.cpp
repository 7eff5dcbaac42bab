#include "classical/knn.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <limits>
#include <mutex>
#include <numeric>
#include <thread>
#include <utility>

#include "classical/knn_internal.h"
#include "core/error.h"
#include "core/progress.h"

namespace rareforge::knn {
namespace detail {

bool TopK::offer(double dist, int64_t idx) {
  if (n_ < k_) {
    size_t c = n_++;
    while (c > 0) {
      const size_t parent = (c - 1) / 2;
      if (!before(d_[parent], i_[parent], dist, idx)) break;
      d_[c] = d_[parent];
      i_[c] = i_[parent];
      c = parent;
    }
    d_[c] = dist;
    i_[c] = idx;
    return true;
  }
  if (!before(dist, idx, d_[0], i_[0])) return false;
  size_t c = 0;
  for (;;) {
    const size_t l = 2 * c + 1;
    if (l >= n_) break;
    size_t big = l;
    if (l + 1 < n_ && before(d_[l], i_[l], d_[l + 1], i_[l + 1])) big = l + 1;
    if (!before(dist, idx, d_[big], i_[big])) break;
    d_[c] = d_[big];
    i_[c] = i_[big];
    c = big;
  }
  d_[c] = dist;
  i_[c] = idx;
  return true;
}

void TopK::sort_ascending() {
  if (n_ > 32) {
    thread_local std::vector<std::pair<double, int64_t>> pairs;
    pairs.resize(n_);
    for (size_t r = 0; r < n_; ++r) pairs[r] = {d_[r], i_[r]};
    std::sort(pairs.begin(), pairs.end());  // (distance, index): the tie rule
    for (size_t r = 0; r < n_; ++r) {
      d_[r] = pairs[r].first;
      i_[r] = pairs[r].second;
    }
    n_ = 0;
    return;
  }
  // Heap sort in place: repeatedly move the worst kept pair to the end.
  size_t n = n_;
  while (n > 1) {
    --n;
    const double dl = d_[n];
    const int64_t il = i_[n];
    d_[n] = d_[0];
    i_[n] = i_[0];
    size_t c = 0;
    for (;;) {
      const size_t l = 2 * c + 1;
      if (l >= n) break;
      size_t big = l;
      if (l + 1 < n && before(d_[l], i_[l], d_[l + 1], i_[l + 1])) big = l + 1;
      if (!before(dl, il, d_[big], i_[big])) break;
      d_[c] = d_[big];
      i_[c] = i_[big];
      c = big;
    }
    d_[c] = dl;
    i_[c] = il;
  }
  n_ = 0;
}

void parallel_for(size_t n_tasks, int threads, const std::function<void(size_t, int)>& fn) {
  if (n_tasks == 0) return;
  const int n_workers =
      static_cast<int>(std::min<size_t>(n_tasks, static_cast<size_t>(std::max(1, threads))));
  if (n_workers == 1) {
    for (size_t t = 0; t < n_tasks; ++t) fn(t, 0);
    return;
  }
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&](int worker) {
    for (;;) {
      if (failed.load(std::memory_order_relaxed)) return;
      const size_t t = next.fetch_add(1, std::memory_order_relaxed);
      if (t >= n_tasks) return;
      try {
        fn(t, worker);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        failed = true;
        return;
      }
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(static_cast<size_t>(n_workers - 1));
  for (int w = 1; w < n_workers; ++w) pool.emplace_back(work, w);
  work(0);
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace detail

namespace {

using detail::Mode;
using detail::Problem;

int resolve_threads(int threads) {
  if (threads > 0) return threads;
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

/// Largest magnitude the distance arithmetic takes without overflow (squares of differences
/// summed over many features must stay finite in double).
constexpr double kMaxAbs = 1e150;

/// NaN/Inf/overflow check of the listed rows (all rows when rows is null), in parallel.
void check_values(View m, const int64_t* rows, size_t n, const char* what, int threads) {
  if (m.cols == 0 || n == 0) return;
  constexpr size_t kChunk = 4096;
  const size_t n_chunks = (n + kChunk - 1) / kChunk;
  // The first bad (row, feature) in scan order wins, so the message is deterministic.
  std::vector<size_t> first_bad(n_chunks, SIZE_MAX);
  detail::parallel_for(n_chunks, threads, [&](size_t c, int) {
    const size_t end = std::min(n, (c + 1) * kChunk);
    for (size_t i = c * kChunk; i < end; ++i) {
      const double* r = m.row(rows ? static_cast<size_t>(rows[i]) : i);
      bool bad = false;
      for (size_t j = 0; j < m.cols; ++j) bad |= !(std::fabs(r[j]) <= kMaxAbs);
      if (bad) {
        first_bad[c] = i;
        return;
      }
    }
  });
  for (size_t c = 0; c < n_chunks; ++c) {
    if (first_bad[c] == SIZE_MAX) continue;
    const size_t row = rows ? static_cast<size_t>(rows[first_bad[c]]) : first_bad[c];
    const double* r = m.row(row);
    for (size_t j = 0; j < m.cols; ++j) {
      if (std::isnan(r[j])) {
        RF_THROW_INPUT(
            "k-NN: feature {} of row {} of the {} is NaN; impute first (e.g. --impute median)", j,
            row, what);
      }
      if (std::isinf(r[j])) {
        RF_THROW_INPUT(
            "k-NN: feature {} of row {} of the {} is {}; replace or impute it first "
            "(e.g. --impute median)",
            j, row, what, r[j] > 0 ? "+Inf" : "-Inf");
      }
      if (!(std::fabs(r[j]) <= kMaxAbs)) {
        RF_THROW_INPUT(
            "k-NN: feature {} of row {} of the {} is {}, beyond +-{:g}; scale the "
            "features first (e.g. --scale standard)",
            j, row, what, r[j], kMaxAbs);
      }
    }
  }
}

void check_view(View m, const char* what) {
  RF_CHECK_INPUT(m.rows == 0 || m.cols == 0 || m.data != nullptr, "k-NN: the {} has no data", what);
}

/// Estimated nanoseconds per (query, reference) pair of the brute-force screen on one thread
/// (measured on an AMD EPYC, Zen 4 class, at 2.6 GHz; see bench/bench_knn.cpp).
double brute_pair_ns(size_t d) {
  const double dd = static_cast<double>(d);
  switch (detail::active_simd()) {
    case detail::Simd::kAvx512Vnni:
      return 0.14 + 0.0095 * dd;
    case detail::Simd::kAvx512:
    case detail::Simd::kAvx2:
      return 0.14 + 0.023 * dd;
    case detail::Simd::kGeneric:
      break;
  }
  return 3.0 * (0.14 + 0.023 * dd);
}

/// kd-tree or brute force. kAuto compares estimated costs: brute force is n_q * n pairs;
/// the kd-tree's cost is its build plus the distance evaluations per query, measured by
/// probing 64 of the queries against trees over two evenly spaced subsamples of the reference
/// (4096 and 32768 rows) and extrapolating to n with the fitted power law. Both give the same
/// results, so the choice only affects time.
bool use_kdtree(const Problem& p, const Options& opt) {
  const size_t d = p.reference.cols;
  const size_t n = p.reference.rows;
  switch (opt.algo) {
    case Algo::kKdTree:
      return true;
    case Algo::kBrute:
      return false;
    case Algo::kAuto:
      break;
  }
  if (d == 0 || d > opt.kdtree_max_dim) return false;
  if (n > std::numeric_limits<uint32_t>::max()) return false;
  if (p.mode == Mode::kTopK && p.k * 8 > n) return false;  // nothing to prune
  const double threads = static_cast<double>(p.threads);
  const double nq = static_cast<double>(p.n_queries);
  const double nn = static_cast<double>(n);
  const double dd = static_cast<double>(d);
  const double brute_ns = nq * nn * brute_pair_ns(d) / threads;
  const double build_ns = nn * std::log2(nn + 1) * (20.0 + 2.0 * dd);
  if (build_ns > brute_ns) return false;
  if (d <= 3) return true;
  if (brute_ns < 5e6 || p.mode != Mode::kTopK) return d <= 6;  // not worth probing

  const size_t leaf = std::max<size_t>(1, opt.leaf_size);
  const size_t n_probe = std::min<size_t>(p.n_queries, 64);
  std::vector<double> probe_q(n_probe * d);
  for (size_t i = 0; i < n_probe; ++i) {
    const double* q = p.query_row(i * p.n_queries / n_probe);
    std::copy(q, q + d, probe_q.begin() + static_cast<std::ptrdiff_t>(i * d));
  }
  auto evals_at = [&](size_t m) {
    std::vector<double> sample(m * d);
    for (size_t i = 0; i < m; ++i) {
      const double* x = p.reference.row(i * n / m);
      std::copy(x, x + d, sample.begin() + static_cast<std::ptrdiff_t>(i * d));
    }
    // k + 1: a query may meet its own row in the sample.
    return detail::kdtree_probe_evals(sample.data(), m, d, probe_q.data(), n_probe, p.k + 1, leaf);
  };
  const size_t m2 = std::min<size_t>(n, 32768);
  const size_t m1 = std::min<size_t>(m2, 4096);
  const double e2 = evals_at(m2);
  double evals = e2;
  if (m2 < n) {
    const double e1 = evals_at(m1);
    double beta = 1.0;
    if (m1 < m2 && e1 > 0 && e2 > 0) {
      beta = std::log(e2 / e1) / std::log(static_cast<double>(m2) / static_cast<double>(m1));
      beta = std::min(1.0, std::max(0.0, beta));
    }
    evals = e2 * std::pow(static_cast<double>(n) / static_cast<double>(m2), beta);
  }
  const double kd_ns = build_ns + nq * (1000.0 + evals * (10.0 + 4.0 * dd)) / threads;
  return kd_ns < brute_ns;
}

Algo run(const Problem& p, const Options& opt, const detail::Output& out) {
  if (p.n_queries == 0) return Algo::kAuto;
  if (use_kdtree(p, opt)) {
    RF_CHECK_INPUT(p.reference.cols > 0, "k-NN: the kd-tree needs at least one feature");
    RF_CHECK_INPUT(p.reference.rows <= std::numeric_limits<uint32_t>::max(),
                   "k-NN: the kd-tree takes at most 2^32-1 reference rows, got {}; use brute force",
                   p.reference.rows);
    detail::kdtree_search(p, std::max<size_t>(1, opt.leaf_size), out);
    return Algo::kKdTree;
  }
  // A long search inside a ProgressScope reports its rows.
  const ProgressScope* scope = ProgressScope::current();
  if (scope && !scope->quiet()) {
    const double pairs = static_cast<double>(p.n_queries) * static_cast<double>(p.reference.rows) *
                         (p.self_join ? 0.5 : 1.0);
    if (pairs * static_cast<double>(std::max<size_t>(1, p.reference.cols)) >= scope->min_work()) {
      Progress progress(scope->label() + " neighbours", p.n_queries, "rows", false);
      Problem q = p;
      q.progress = &progress;
      detail::brute_search(q, out);
      progress.finish();
      return Algo::kBrute;
    }
  }
  detail::brute_search(p, out);
  return Algo::kBrute;
}

Result run_topk(Problem& p, const Options& opt) {
  Result r;
  r.n_queries = p.n_queries;
  r.k = p.k;
  r.indices.assign(p.n_queries * p.k, -1);
  r.distances.assign(p.n_queries * p.k, 0.0);
  detail::Output out;
  out.sq = r.distances.data();
  out.idx = r.indices.data();
  r.algo = run(p, opt, out);
  for (double& v : r.distances) v = std::sqrt(v);
  return r;
}

void check_k(size_t k, size_t n_ref, bool excluding_self) {
  RF_CHECK_INPUT(k > 0, "k-NN: k must be at least 1, got 0");
  const size_t available = excluding_self ? (n_ref == 0 ? 0 : n_ref - 1) : n_ref;
  RF_CHECK_INPUT(k <= available,
                 "k-NN: k = {} neighbours asked but only {} reference rows{} are available ({} "
                 "rows); lower k",
                 k, available, excluding_self ? " other than the query's own" : "", n_ref);
}

}  // namespace

const char* to_string(Algo algo) {
  switch (algo) {
    case Algo::kAuto:
      return "auto";
    case Algo::kKdTree:
      return "kdtree";
    case Algo::kBrute:
      return "brute";
  }
  return "?";
}

double squared_distance(const double* a, const double* b, size_t d) {
  return detail::sq_dist(a, b, d);
}

Result query(View reference, View queries, size_t k, const Options& opt) {
  check_view(reference, "reference rows");
  check_view(queries, "query rows");
  RF_CHECK_INPUT(reference.cols == queries.cols,
                 "k-NN: the query rows have {} features but the reference rows have {}",
                 queries.cols, reference.cols);
  if (opt.exclude_self) {
    RF_CHECK_INPUT(queries.rows == reference.rows,
                   "k-NN: exclude_self needs the queries to be the reference rows, but there are "
                   "{} query rows and {} reference rows",
                   queries.rows, reference.rows);
  }
  check_k(k, reference.rows, opt.exclude_self);
  Problem p;
  p.threads = resolve_threads(opt.threads);
  check_values(reference, nullptr, reference.rows, "reference rows", p.threads);
  if (queries.data != reference.data || queries.rows != reference.rows) {
    check_values(queries, nullptr, queries.rows, "query rows", p.threads);
  }
  p.reference = reference;
  p.queries = queries;
  p.n_queries = queries.rows;
  p.k = k;
  std::vector<int64_t> self;
  if (opt.exclude_self) {
    self.resize(queries.rows);
    std::iota(self.begin(), self.end(), int64_t{0});
    p.self = self.data();
    p.self_join = queries.data == reference.data;
  }
  return run_topk(p, opt);
}

Result self_query(View data, size_t k, const Options& opt) {
  Options o = opt;
  o.exclude_self = true;
  return query(data, data, k, o);
}

Result query_rows(View data, const std::vector<int64_t>& rows, size_t k, const Options& opt) {
  check_view(data, "data");
  for (size_t i = 0; i < rows.size(); ++i) {
    RF_CHECK_INPUT(rows[i] >= 0 && static_cast<size_t>(rows[i]) < data.rows,
                   "k-NN: query {} names row {} but the data has {} rows", i, rows[i], data.rows);
  }
  check_k(k, data.rows, true);
  Problem p;
  p.threads = resolve_threads(opt.threads);
  check_values(data, nullptr, data.rows, "data", p.threads);
  p.reference = data;
  p.queries = data;
  p.qrows = rows.data();
  p.self = rows.data();
  p.n_queries = rows.size();
  p.k = k;
  return run_topk(p, opt);
}

std::vector<double> nearest_distances(View reference, View queries, const Options& opt) {
  Options o = opt;
  o.exclude_self = false;
  Result r = query(reference, queries, 1, o);
  return std::move(r.distances);
}

namespace {

std::vector<int64_t> run_count(View reference, View queries, Problem& p, const Options& opt) {
  check_view(reference, "reference rows");
  check_view(queries, "query rows");
  RF_CHECK_INPUT(reference.cols == queries.cols,
                 "k-NN: the query rows have {} features but the reference rows have {}",
                 queries.cols, reference.cols);
  p.threads = resolve_threads(opt.threads);
  check_values(reference, nullptr, reference.rows, "reference rows", p.threads);
  check_values(queries, nullptr, queries.rows, "query rows", p.threads);
  p.reference = reference;
  p.queries = queries;
  p.n_queries = queries.rows;
  std::vector<int64_t> self;
  if (opt.exclude_self) {
    RF_CHECK_INPUT(queries.rows == reference.rows,
                   "k-NN: exclude_self needs the queries to be the reference rows, but there are "
                   "{} query rows and {} reference rows",
                   queries.rows, reference.rows);
    self.resize(queries.rows);
    std::iota(self.begin(), self.end(), int64_t{0});
    p.self = self.data();
  }
  std::vector<int64_t> counts(queries.rows, 0);
  if (reference.rows == 0) return counts;
  detail::Output out;
  out.counts = counts.data();
  run(p, opt, out);
  return counts;
}

}  // namespace

std::vector<int64_t> count_within(View reference, View queries, double radius, const Options& opt) {
  RF_CHECK_INPUT(std::isfinite(radius) && radius >= 0,
                 "k-NN: the radius must be finite and >= 0, got {}", radius);
  Problem p;
  p.mode = Mode::kCount;
  p.radius2 = radius * radius;
  return run_count(reference, queries, p, opt);
}

std::vector<int64_t> count_within_balls(View reference, View queries,
                                        const std::vector<double>& radii, const Options& opt) {
  RF_CHECK_INPUT(radii.size() == reference.rows,
                 "k-NN: {} radii given for {} reference rows; give one per row", radii.size(),
                 reference.rows);
  std::vector<double> radii2(radii.size());
  for (size_t j = 0; j < radii.size(); ++j) {
    RF_CHECK_INPUT(std::isfinite(radii[j]) && radii[j] >= 0,
                   "k-NN: radius {} (of reference row {}) must be finite and >= 0", radii[j], j);
    radii2[j] = radii[j] * radii[j];
  }
  Problem p;
  p.mode = Mode::kBalls;
  p.radii2 = radii2.data();
  return run_count(reference, queries, p, opt);
}

namespace {
thread_local const ProgressScope* tls_scope = nullptr;
}  // namespace

ProgressScope::ProgressScope(std::string label, bool quiet, double min_work)
    : label_(std::move(label)), quiet_(quiet), min_work_(min_work), outer_(tls_scope) {
  tls_scope = this;
}

ProgressScope::~ProgressScope() { tls_scope = outer_; }

const ProgressScope* ProgressScope::current() { return tls_scope; }

}  // namespace rareforge::knn
