#include "classical/over_util.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <limits>
#include <mutex>
#include <numeric>
#include <thread>

#include "core/error.h"
#include "core/log.h"

#ifdef __linux__
#include <sys/mman.h>
#endif

namespace rareforge::classical::over {

namespace {

/// Map the pages of [p, p + bytes) for writing in one call instead of one fault per page
/// (Linux >= 5.14: MADV_POPULATE_WRITE; a hint, ignored when refused or unknown). On the virtual
/// machines we measured, taking fresh pages one fault at a time cost more than filling them, and
/// the output table is mostly fresh memory (hundreds of MB for a million rows). (Transparent huge
/// pages were tried too: direct compaction stalls made them slower on average.)
void prefault(void* p, size_t bytes) {
#ifdef __linux__
  constexpr int kPopulateWrite = 23;  // MADV_POPULATE_WRITE, absent from older headers
  if (bytes < (size_t{4} << 20)) return;
  const uintptr_t page = 4096;
  const uintptr_t a = (reinterpret_cast<uintptr_t>(p) + page - 1) & ~(page - 1);
  const uintptr_t b = (reinterpret_cast<uintptr_t>(p) + bytes) & ~(page - 1);
  if (b > a) (void)madvise(reinterpret_cast<void*>(a), b - a, kPopulateWrite);
#else
  (void)p;
  (void)bytes;
#endif
}

}  // namespace

void parallel_for(size_t n_tasks, int threads, const std::function<void(size_t)>& fn) {
  const size_t nt = std::min<size_t>(n_tasks, static_cast<size_t>(std::max(1, threads)));
  if (nt <= 1) {
    for (size_t i = 0; i < n_tasks; ++i) fn(i);
    return;
  }
  std::atomic<size_t> next{0};
  std::exception_ptr error;
  std::mutex mu;
  auto worker = [&] {
    for (;;) {
      const size_t i = next.fetch_add(1);
      if (i >= n_tasks) return;
      try {
        fn(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!error) error = std::current_exception();
        next = n_tasks;
        return;
      }
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < nt; ++t) pool.emplace_back(worker);
  worker();
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
}

void for_chunks(size_t n, uint64_t seed, uint64_t stream, int threads,
                const std::function<void(size_t, size_t, Rng&)>& fn) {
  const size_t n_chunks = (n + kChunk - 1) / kChunk;
  parallel_for(n_chunks, threads, [&](size_t j) {
    Rng rng = Rng::derive(seed, stream + j);
    fn(j * kChunk, std::min(n, (j + 1) * kChunk), rng);
  });
}

SamplingPlan plan_over(const Table& t, const SamplingRequest& req) {
  RF_CHECK_INPUT(t.has_target(), "over-sampling needs a target column (--target)");
  std::optional<double> max_ratio;
  if (req.max_ratio > 0) max_ratio = req.max_ratio;
  return plan_sampling(req.strategy, t, SamplingKind::kOver, max_ratio);
}

std::vector<std::vector<int64_t>> rows_by_class(const Table& t) {
  std::vector<std::vector<int64_t>> rows(t.n_classes());
  const std::vector<int64_t> counts = t.class_counts();  // sized once: no regrowth
  for (size_t c = 0; c < rows.size(); ++c) rows[c].reserve(static_cast<size_t>(counts[c]));
  const auto& y = t.labels();
  for (size_t i = 0; i < y.size(); ++i)
    if (y[i] >= 0) rows[y[i]].push_back(static_cast<int64_t>(i));
  return rows;
}

uint64_t class_seed(const Context& ctx, size_t c) {
  Rng base = ctx.rng(streams::kSampler);
  return Rng::derive(base.next(), c).next();
}

std::string Features::cat_names(const Table& t) const {
  std::string s;
  for (size_t j : cat) s += (s.empty() ? "" : ", ") + t.column(j).name();
  return s;
}

Features split_features(const Table& t) {
  Features f;
  for (size_t j : t.feature_indices()) (t.column(j).is_numeric() ? f.num : f.cat).push_back(j);
  return f;
}

void check_complete(const Table& t, const std::vector<size_t>& cols, const std::string& method,
                    int threads) {
  // Scan in parallel; report the first bad cell in column order.
  std::vector<int64_t> bad(cols.size(), -1);
  parallel_for(cols.size(), threads, [&](size_t q) {
    const Column& col = t.column(cols[q]);
    const size_t n = col.size();
    for (size_t i = 0; i < n; ++i) {
      const bool ok = col.is_numeric() ? std::isfinite(col.num[i]) : col.codes[i] >= 0;
      if (!ok) {
        bad[q] = static_cast<int64_t>(i);
        return;
      }
    }
  });
  for (size_t q = 0; q < cols.size(); ++q) {
    if (bad[q] < 0) continue;
    const Column& col = t.column(cols[q]);
    if (col.is_numeric())
      RF_THROW_INPUT(
          "{}: column '{}' has a missing or infinite value (row {}); {} cannot take missing "
          "values: impute first (e.g. rareforge's preprocessing impute=median) or drop those rows",
          method, col.name(), bad[q] + 1, method);
    RF_THROW_INPUT(
        "{}: categorical column '{}' has a missing value (row {}); {} cannot take missing "
        "values: impute first (e.g. rareforge's preprocessing impute=mode) or drop those rows",
        method, col.name(), bad[q] + 1, method);
  }
}

double column_std(const Table& t, size_t col, const std::vector<int64_t>& rows) {
  const auto& x = t.column(col).num;
  if (rows.empty()) return 0.0;
  double mean = 0;
  for (int64_t i : rows) mean += x[i];
  mean /= static_cast<double>(rows.size());
  double ss = 0;
  for (int64_t i : rows) ss += (x[i] - mean) * (x[i] - mean);
  return std::sqrt(ss / static_cast<double>(rows.size()));
}

double median_std(const Table& t, const std::vector<size_t>& num,
                  const std::vector<int64_t>& rows) {
  if (num.empty()) return 0.0;
  std::vector<double> s;
  for (size_t j : num) s.push_back(column_std(t, j, rows));
  std::sort(s.begin(), s.end());
  const size_t m = s.size() / 2;
  return s.size() % 2 ? s[m] : 0.5 * (s[m - 1] + s[m]);
}

double nc_cat_value(const Table& t, const Features& f, const std::vector<int64_t>& med_rows) {
  if (f.cat.empty()) return 0.0;
  return median_std(t, f.num, med_rows) / std::sqrt(2.0);
}

MatrixRM embed(const Table& t, const Features& f, const std::vector<int64_t>& rows, bool all,
               double cat_value, int threads) {
  const size_t n = all ? t.n_rows() : rows.size();
  auto row_of = [&](size_t i) -> size_t { return all ? i : static_cast<size_t>(rows[i]); };
  // One slot per category that some row of the TABLE uses, so embeddings of different row sets
  // share one layout (a reference and its queries).
  std::vector<std::vector<int32_t>> slot(f.cat.size());
  size_t width = f.num.size();
  for (size_t q = 0; q < f.cat.size(); ++q) {
    const Column& col = t.column(f.cat[q]);
    slot[q].assign(col.categories().size(), -1);
    for (int32_t code : col.codes)
      if (code >= 0) slot[q][code] = 0;
    for (auto& s : slot[q])
      if (s == 0) s = static_cast<int32_t>(width++);
  }
  MatrixRM m(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(width));
  const size_t p = f.num.size();
  std::vector<const double*> src(p);
  for (size_t j = 0; j < p; ++j) src[j] = t.column(f.num[j]).num.data();
  const size_t block = 8192;
  parallel_for((n + block - 1) / block, threads, [&](size_t b) {
    const size_t lo = b * block, hi = std::min(n, lo + block);
    for (size_t i = lo; i < hi; ++i) {
      double* out = m.data() + i * width;
      const size_t r = row_of(i);
      for (size_t j = 0; j < p; ++j) out[j] = src[j][r];
      std::fill(out + p, out + width, 0.0);
      for (size_t q = 0; q < f.cat.size(); ++q) {
        const int32_t code = t.column(f.cat[q]).codes[r];
        if (code >= 0) out[slot[q][code]] = cat_value;
      }
    }
  });
  return m;
}

size_t effective_k(size_t k, size_t n, const std::string& method, const std::string& class_name,
                   const char* param) {
  RF_CHECK(n >= 2, "class '{}' has {} rows", class_name, n);
  if (k + 1 <= n) return k;
  warn_once(fmt::format("{}: class '{}' has {} rows, fewer than {}+1 = {}; using {}={} for it",
                        method, class_name, n, param, k + 1, param, n - 1));
  return n - 1;
}

void require_two_rows(size_t n, const std::string& method, const std::string& class_name) {
  RF_CHECK_INPUT(n >= 2,
                 "{}: class '{}' has {} row and must grow, but interpolation needs at least 2 "
                 "rows of a class; use random-over (duplicates) for it, or leave it out with "
                 "--strategy (e.g. --strategy 'other=COUNT')",
                 method, class_name, n);
}

std::vector<int64_t> apportion(const std::vector<double>& weights, int64_t total) {
  const size_t n = weights.size();
  std::vector<int64_t> out(n, 0);
  if (total <= 0 || n == 0) return out;
  double sum = 0;
  for (double w : weights) {
    RF_CHECK(w >= 0 && std::isfinite(w), "apportion: bad weight {}", w);
    sum += w;
  }
  RF_CHECK(sum > 0, "apportion: all weights are 0");
  std::vector<double> rem(n);
  int64_t assigned = 0;
  for (size_t i = 0; i < n; ++i) {
    const double raw = static_cast<double>(total) * (weights[i] / sum);
    const double fl = std::floor(raw);
    out[i] = static_cast<int64_t>(fl);
    rem[i] = raw - fl;
    assigned += out[i];
  }
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return rem[a] > rem[b]; });
  // Floating-point error in the raw shares could make `assigned` miss [total - n, total];
  // both directions are handled so the parts always sum to `total`.
  for (size_t t = 0; assigned < total; t = (t + 1) % n) {
    if (weights[order[t]] > 0) {
      ++out[order[t]];
      ++assigned;
    }
  }
  for (size_t t = n; assigned > total;) {
    t = (t == 0 ? n : t) - 1;
    if (out[order[t]] > 0) {
      --out[order[t]];
      --assigned;
    }
  }
  return out;
}

// --- OverOutput ---------------------------------------------------------------------------------

OverOutput::OverOutput(const Table& input, Table* owned, const std::vector<int64_t>& made,
                       const std::string& method, int threads)
    : src_(&input), made_(made) {
  RF_CHECK(owned == nullptr || owned == &input, "owned must be the input");
  const size_t n_in = input.n_rows();
  const size_t nc = input.n_classes();
  RF_CHECK(made_.size() == nc, "made has {} entries for {} classes", made_.size(), nc);
  start_.resize(nc);
  size_t total = n_in;
  for (size_t c = 0; c < nc; ++c) {
    RF_CHECK(made_[c] >= 0, "negative count");
    start_[c] = total;
    total += static_cast<size_t>(made_[c]);
  }
  const int target = input.target_index();
  const std::string target_name = input.target();
  Provenance q;  // the input's provenance (moved when owned)
  if (owned)
    q = std::move(owned->provenance());
  else
    q = input.provenance();
  Provenance p;
  p.methods = q.methods;
  int32_t mi = -1;
  for (size_t k = 0; k < p.methods.size(); ++k)
    if (p.methods[k] == method) mi = static_cast<int32_t>(k);
  if (mi < 0) {
    p.methods.push_back(method);
    mi = static_cast<int32_t>(p.methods.size() - 1);
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  // Every vector is reserved at its final size and each element written once: on large tables
  // the cost is dominated by first touches of fresh memory. When owned, a column with room for
  // the new rows (CsvOptions::headroom) is extended in place; any other input column is
  // released as soon as it has been copied, so the input and the output never coexist whole.
  const size_t n_cols = input.n_cols();
  std::vector<Column> cols(n_cols);
  parallel_for(n_cols + 6, threads, [&](size_t task) {
    if (task < n_cols) {
      const Column& src = input.column(task);
      Column& d = cols[task];
      d.spec = src.spec;
      if (src.is_numeric()) {
        if (owned && src.num.capacity() >= total) {
          d.num = std::move(owned->column(task).num);
          prefault(d.num.data() + n_in, (total - n_in) * sizeof(double));
        } else {
          d.num.reserve(total);
          prefault(d.num.data(), total * sizeof(double));
          d.num.insert(d.num.end(), src.num.begin(), src.num.end());
          if (owned) std::vector<double>().swap(owned->column(task).num);
        }
        d.num.resize(total, nan);
      } else {
        if (owned && src.codes.capacity() >= total) {
          d.codes = std::move(owned->column(task).codes);
        } else {
          d.codes.reserve(total);
          d.codes.insert(d.codes.end(), src.codes.begin(), src.codes.end());
          if (owned) std::vector<int32_t>().swap(owned->column(task).codes);
        }
        if (static_cast<int>(task) == target) {
          for (size_t c = 0; c < nc; ++c)
            d.codes.resize(start_[c] + static_cast<size_t>(made_[c]), static_cast<int32_t>(c));
        } else {
          d.codes.resize(total, -1);
        }
      }
      return;
    }
    switch (task - n_cols) {
      case 0:
        p.synthetic.reserve(total);
        if (q.empty())
          p.synthetic.resize(n_in, 0);
        else
          p.synthetic.insert(p.synthetic.end(), q.synthetic.begin(), q.synthetic.end());
        p.synthetic.resize(total, 1);
        break;
      case 1:
        p.method.reserve(total);
        prefault(p.method.data(), total * sizeof(int32_t));
        if (q.empty())
          p.method.resize(n_in, -1);
        else
          p.method.insert(p.method.end(), q.method.begin(), q.method.end());
        p.method.resize(total, mi);
        break;
      case 2:
        // Original rows: parent = their input index (sampler.h); synthetic input rows keep theirs.
        p.parent.reserve(total);
        prefault(p.parent.data(), total * sizeof(int64_t));
        p.parent.resize(total);
        for (size_t i = 0; i < n_in; ++i)
          p.parent[i] = (q.empty() || !q.synthetic[i]) ? static_cast<int64_t>(i) : q.parent[i];
        std::fill(p.parent.begin() + static_cast<std::ptrdiff_t>(n_in), p.parent.end(), -1);
        break;
      case 3:
        p.neighbor.reserve(total);
        prefault(p.neighbor.data(), total * sizeof(int64_t));
        if (q.empty())
          p.neighbor.resize(n_in, -1);
        else
          p.neighbor.insert(p.neighbor.end(), q.neighbor.begin(), q.neighbor.end());
        p.neighbor.resize(total, -1);
        break;
      case 4:
        p.gap.reserve(total);
        prefault(p.gap.data(), total * sizeof(double));
        if (q.empty())
          p.gap.resize(n_in, nan);
        else
          p.gap.insert(p.gap.end(), q.gap.begin(), q.gap.end());
        p.gap.resize(total, nan);
        break;
      case 5:
        kept_.reserve(n_in);
        prefault(kept_.data(), n_in * sizeof(size_t));
        kept_.resize(n_in);
        std::iota(kept_.begin(), kept_.end(), size_t{0});
        break;
    }
  });
  for (auto& c : cols) out_.add_column(std::move(c));
  out_.set_target(target_name);
  out_.provenance() = std::move(p);
  if (owned) {
    *owned = Table();
    src_ = &out_;
  }
}

void OverOutput::interpolate(const Range& r, const std::vector<size_t>& cols, int threads) {
  const int64_t* par = out_.provenance().parent.data() + r.begin;
  const int64_t* nb = out_.provenance().neighbor.data() + r.begin;
  const double* g = out_.provenance().gap.data() + r.begin;
  const size_t block = 16384;
  parallel_for((r.n + block - 1) / block, threads, [&](size_t b) {
    const size_t lo = b * block, hi = std::min(r.n, lo + block);
    for (size_t j : cols) {
      const double* x = src_->column(j).num.data();
      double* y = out_.column(j).num.data() + r.begin;
      for (size_t i = lo; i < hi; ++i) {
        const double a = x[par[i]];
        y[i] = nb[i] < 0 ? a : a + g[i] * (x[nb[i]] - a);
      }
    }
  });
}

void OverOutput::interpolate_local(const Range& r, const std::vector<size_t>& cols,
                                   const MatrixRM& space, const int32_t* a_local,
                                   const int32_t* b_local, int threads) {
  RF_CHECK(static_cast<size_t>(space.cols()) >= cols.size(), "space has {} columns for {}",
           space.cols(), cols.size());
  const double* g = out_.provenance().gap.data() + r.begin;
  // The columns of `space` one after another: a column pass then gathers from one contiguous
  // array (the class's values of that column) instead of from every row.
  const size_t rows = static_cast<size_t>(space.rows());
  std::vector<double> xt(rows * cols.size());
  for (size_t i = 0; i < rows; ++i)
    for (size_t q = 0; q < cols.size(); ++q)
      xt[q * rows + i] = space(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(q));
  const size_t block = 8192;
  parallel_for((r.n + block - 1) / block, threads, [&](size_t b) {
    const size_t lo = b * block, hi = std::min(r.n, lo + block);
    for (size_t q = 0; q < cols.size(); ++q) {
      const double* x = xt.data() + q * rows;
      double* y = out_.column(cols[q]).num.data() + r.begin;
      for (size_t i = lo; i < hi; ++i) {
        const double a = x[a_local[i]];
        y[i] = a + g[i] * (x[b_local[i]] - a);
      }
    }
  });
}

void OverOutput::copy_from_parent(const Range& r, const std::vector<size_t>& cols, int threads) {
  const int64_t* par = out_.provenance().parent.data() + r.begin;
  const size_t block = 16384;
  parallel_for((r.n + block - 1) / block, threads, [&](size_t b) {
    const size_t lo = b * block, hi = std::min(r.n, lo + block);
    for (size_t j : cols) {
      const Column& src = src_->column(j);
      Column& dst = out_.column(j);
      if (src.is_numeric()) {
        for (size_t i = lo; i < hi; ++i) dst.num[r.begin + i] = src.num[par[i]];
      } else {
        for (size_t i = lo; i < hi; ++i) dst.codes[r.begin + i] = src.codes[par[i]];
      }
    }
  });
}

void OverOutput::vote(const Range& r, const std::vector<size_t>& cols,
                      const std::vector<int64_t>& class_rows,
                      const std::vector<int64_t>& seed_input, const std::vector<int32_t>& seed_row,
                      const knn::Result& nn, bool include_seed, uint64_t seed, int threads) {
  if (cols.empty() || r.n == 0) return;
  RF_CHECK(seed_row.size() == r.n, "seed_row size {} vs {}", seed_row.size(), r.n);
  const size_t k = nn.k;
  for_chunks(r.n, seed, kVoteStream, threads, [&](size_t lo, size_t hi, Rng& rng) {
    std::vector<int32_t> v;
    std::vector<int32_t> ties;
    for (size_t i = lo; i < hi; ++i) {
      const size_t s = static_cast<size_t>(seed_row[i]);
      for (size_t j : cols) {
        const auto& codes = src_->column(j).codes;
        v.clear();
        for (size_t t = 0; t < k; ++t) v.push_back(codes[class_rows[nn.index(s, t)]]);
        if (include_seed) v.push_back(codes[seed_input[s]]);
        std::sort(v.begin(), v.end());
        ties.clear();
        size_t best = 0;
        for (size_t a = 0; a < v.size();) {
          size_t b = a;
          while (b < v.size() && v[b] == v[a]) ++b;
          if (b - a > best) {
            best = b - a;
            ties.assign(1, v[a]);
          } else if (b - a == best) {
            ties.push_back(v[a]);
          }
          a = b;
        }
        const int32_t pick =
            ties.size() == 1 ? ties[0] : ties[static_cast<size_t>(rng.uniform_int(ties.size()))];
        out_.column(j).codes[r.begin + i] = pick;
      }
    }
  });
}

ResampleResult OverOutput::finish() {
  ResampleResult res;
  res.kept = std::move(kept_);
  res.made = made_;
  res.removed.assign(made_.size(), 0);
  res.table = std::move(out_);
  return res;
}

void smote_rows(OverOutput& out, const Range& r, const Features& f,
                const std::vector<int64_t>& class_rows, const std::vector<int64_t>& seed_input,
                const knn::Result& nn, const std::function<int32_t(Rng&, size_t)>& pick_seed,
                uint64_t seed, int threads, const MatrixRM* space,
                const std::vector<int32_t>* seed_local) {
  if (r.n == 0) return;
  RF_CHECK(nn.k >= 1, "smote_rows needs k >= 1");
  int64_t* par = out.parent(r);
  int64_t* nb = out.neighbor(r);
  double* g = out.gap(r);
  std::vector<int32_t> seed_row(r.n), a_local, b_local;
  if (space) {
    a_local.resize(r.n);
    b_local.resize(r.n);
  }
  const uint64_t k = nn.k;
  for_chunks(r.n, seed, 0, threads, [&](size_t lo, size_t hi, Rng& rng) {
    for (size_t i = lo; i < hi; ++i) {
      const int32_t s = pick_seed(rng, i);
      const size_t j = static_cast<size_t>(rng.uniform_int(k));
      const int64_t partner = nn.index(static_cast<size_t>(s), j);
      seed_row[i] = s;
      par[i] = seed_input[s];
      nb[i] = class_rows[partner];
      g[i] = rng.uniform();
      if (space) {
        a_local[i] = seed_local ? (*seed_local)[s] : s;
        b_local[i] = static_cast<int32_t>(partner);
      }
    }
  });
  if (space)
    out.interpolate_local(r, f.num, *space, a_local.data(), b_local.data(), threads);
  else
    out.interpolate(r, f.num, threads);
  out.vote(r, f.cat, class_rows, seed_input, seed_row, nn, false, seed, threads);
}

}  // namespace rareforge::classical::over
