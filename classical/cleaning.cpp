#include "classical/cleaning.h"

#include <algorithm>
#include <cmath>

#include "classical/sampler.h"
#include "core/error.h"
#include "core/log.h"

namespace rareforge::classical {

namespace {

std::vector<int64_t> count_labels(const std::vector<int32_t>& y, size_t n_classes) {
  std::vector<int64_t> counts(n_classes, 0);
  for (int32_t v : y) ++counts[static_cast<size_t>(v)];
  return counts;
}

// Python's min(Counter(y), key=...): the smallest count, ties to the label seen first in y.
int first_minority(const std::vector<int32_t>& y, const std::vector<int64_t>& counts) {
  int64_t best = -1;
  for (int64_t c : counts)
    if (c > 0 && (best < 0 || c < best)) best = c;
  for (int32_t v : y)
    if (counts[static_cast<size_t>(v)] == best) return v;
  return -1;
}

size_t n_present(const std::vector<int64_t>& counts) {
  size_t n = 0;
  for (int64_t c : counts) n += c > 0;
  return n;
}

// Rows `rows` of x, copied into a new matrix.
MatrixRM gather(knn::View x, const std::vector<size_t>& rows) {
  MatrixRM m(static_cast<Eigen::Index>(rows.size()), static_cast<Eigen::Index>(x.cols));
  for (size_t i = 0; i < rows.size(); ++i)
    std::copy(x.row(rows[i]), x.row(rows[i]) + x.cols, m.data() + i * x.cols);
  return m;
}

// One pass of ENN inside RENN / AllKNN: plans the strategy on the current rows, runs ENN and
// returns the surviving subset of `cur`.
std::vector<size_t> enn_pass(knn::View x, const std::vector<int32_t>& y,
                             const std::vector<size_t>& cur, bool whole,
                             const std::vector<std::string>& class_names,
                             const SamplingStrategy& strategy, size_t k, EnnKind kind, int threads,
                             const std::string& method) {
  const size_t nc = class_names.size();
  std::vector<int32_t> ys(cur.size());
  for (size_t i = 0; i < cur.size(); ++i) ys[i] = y[cur[i]];
  const SamplingPlan plan =
      plan_sampling(strategy, count_labels(ys, nc), class_names, SamplingKind::kClean);
  std::vector<uint8_t> keep;
  if (whole) {
    keep = enn_keep(x, ys, nc, plan.clean, k, kind, threads, method);
  } else {
    const MatrixRM xs = gather(x, cur);
    keep = enn_keep(xs, ys, nc, plan.clean, k, kind, threads, method);
  }
  std::vector<size_t> next;
  next.reserve(cur.size());
  for (size_t i = 0; i < cur.size(); ++i)
    if (keep[i]) next.push_back(cur[i]);
  return next;
}

}  // namespace

EnnKind parse_enn_kind(const std::string& text) {
  if (text == "all") return EnnKind::kAll;
  if (text == "mode") return EnnKind::kMode;
  RF_THROW_INPUT("kind must be 'all' or 'mode', got '{}'", text);
}

MatrixRM cleaning_features(const Table& t, const std::string& method) {
  const std::vector<size_t> cols = t.feature_indices();
  RF_CHECK_INPUT(!cols.empty(), "{}: the table has no feature columns besides the target '{}'",
                 method, t.target());
  bool any_categorical = false;
  size_t width = 0;
  for (size_t j : cols) {
    const Column& c = t.column(j);
    any_categorical |= c.is_categorical();
    width += c.is_categorical() ? c.categories().size() : 1;
  }
  if (!any_categorical) return numeric_features(t, cols, method);
  note_once(fmt::format(
      "{}: categorical feature columns are one-hot encoded (0/1 per category) for distances",
      method));
  const size_t n = t.n_rows();
  MatrixRM m = MatrixRM::Zero(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(width));
  size_t off = 0;
  for (size_t j : cols) {
    const Column& c = t.column(j);
    for (size_t i = 0; i < n; ++i) {
      RF_CHECK_INPUT(!c.is_missing(i),
                     "{}: column '{}' has a missing value (row {}); {} cannot take missing "
                     "values: impute first (e.g. rareforge's preprocessing impute=median) or "
                     "drop those rows",
                     method, c.name(), i + 1, method);
      if (c.is_numeric())
        m(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(off)) = c.num[i];
      else
        m(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(off + c.codes[i])) = 1.0;
    }
    off += c.is_categorical() ? c.categories().size() : 1;
  }
  return m;
}

std::vector<uint8_t> enn_keep(knn::View x, const std::vector<int32_t>& y, size_t n_classes,
                              const std::vector<uint8_t>& clean, size_t k, EnnKind kind,
                              int threads, const std::string& method) {
  const size_t n = x.rows;
  RF_CHECK(y.size() == n, "{} labels for {} rows", y.size(), n);
  RF_CHECK(clean.size() == n_classes, "{} clean flags for {} classes", clean.size(), n_classes);
  RF_CHECK(k >= 1, "k = 0");
  std::vector<uint8_t> keep(n, 1);
  std::vector<int64_t> rows;
  for (size_t i = 0; i < n; ++i)
    if (clean[static_cast<size_t>(y[i])]) rows.push_back(static_cast<int64_t>(i));
  if (rows.empty()) return keep;
  RF_CHECK_INPUT(n >= 2, "{}: needs at least 2 rows to find neighbours, got {}", method, n);
  if (k > n - 1) {
    warn_once(fmt::format("{}: k = {} is more than the {} other rows; using k = {}", method, k,
                          n - 1, n - 1));
    k = n - 1;
  }
  knn::Options opt;
  opt.threads = threads;
  const knn::Result nn =
      rows.size() == n ? knn::self_query(x, k, opt) : knn::query_rows(x, rows, k, opt);
  std::vector<int32_t> votes(n_classes, 0);
  for (size_t q = 0; q < rows.size(); ++q) {
    const auto i = static_cast<size_t>(rows[q]);
    const int32_t own = y[i];
    bool agree = true;
    if (kind == EnnKind::kAll) {
      for (size_t r = 0; r < k && agree; ++r) agree = y[static_cast<size_t>(nn.index(q, r))] == own;
    } else {
      std::fill(votes.begin(), votes.end(), 0);
      for (size_t r = 0; r < k; ++r)
        ++votes[static_cast<size_t>(y[static_cast<size_t>(nn.index(q, r))])];
      // Most frequent label, ties to the smallest (first maximum in label order).
      const auto mode = std::max_element(votes.begin(), votes.end()) - votes.begin();
      agree = mode == own;
    }
    keep[i] = agree ? 1 : 0;
  }
  return keep;
}

std::vector<uint8_t> tomek_keep(knn::View x, const std::vector<int32_t>& y,
                                const std::vector<uint8_t>& clean, int threads) {
  const size_t n = x.rows;
  RF_CHECK(y.size() == n, "{} labels for {} rows", y.size(), n);
  std::vector<uint8_t> keep(n, 1);
  std::vector<int64_t> rows;
  for (size_t i = 0; i < n; ++i)
    if (clean[static_cast<size_t>(y[i])]) rows.push_back(static_cast<int64_t>(i));
  if (rows.empty()) return keep;
  RF_CHECK_INPUT(n >= 2, "tomek: needs at least 2 rows to find neighbours, got {}", n);
  knn::Options opt;
  opt.threads = threads;
  std::vector<int64_t> nn(n, -1);
  {
    const knn::Result r =
        rows.size() == n ? knn::self_query(x, 1, opt) : knn::query_rows(x, rows, 1, opt);
    for (size_t q = 0; q < rows.size(); ++q) nn[static_cast<size_t>(rows[q])] = r.index(q, 0);
  }
  // The partners of other classes whose own nearest neighbour is still unknown.
  std::vector<int64_t> more;
  for (int64_t i : rows) {
    const int64_t j = nn[static_cast<size_t>(i)];
    if (y[static_cast<size_t>(j)] != y[static_cast<size_t>(i)] && nn[static_cast<size_t>(j)] < 0) {
      nn[static_cast<size_t>(j)] = -2;  // queued
      more.push_back(j);
    }
  }
  if (!more.empty()) {
    std::sort(more.begin(), more.end());
    const knn::Result r = knn::query_rows(x, more, 1, opt);
    for (size_t q = 0; q < more.size(); ++q) nn[static_cast<size_t>(more[q])] = r.index(q, 0);
  }
  for (int64_t i : rows) {
    const auto a = static_cast<size_t>(i);
    const auto b = static_cast<size_t>(nn[a]);
    if (y[b] != y[a] && nn[b] == i) keep[a] = 0;
  }
  return keep;
}

IterativeClean renn_select(knn::View x, const std::vector<int32_t>& y,
                           const std::vector<std::string>& class_names,
                           const SamplingStrategy& strategy, size_t k, EnnKind kind, int max_iter,
                           int threads) {
  const size_t nc = class_names.size();
  const std::vector<int64_t> counts0 = count_labels(y, nc);
  const int minority = first_minority(y, counts0);
  const size_t present0 = n_present(counts0);
  IterativeClean out;
  out.kept.resize(x.rows);
  for (size_t i = 0; i < x.rows; ++i) out.kept[i] = i;
  for (int it = 0; it < max_iter; ++it) {
    std::vector<size_t> next =
        enn_pass(x, y, out.kept, it == 0, class_names, strategy, k, kind, threads, "renn");
    out.iterations = it + 1;
    const bool converged = next.size() == out.kept.size();
    out.kept = std::move(next);
    std::vector<int32_t> ys(out.kept.size());
    for (size_t i = 0; i < out.kept.size(); ++i) ys[i] = y[out.kept[i]];
    const std::vector<int64_t> counts = count_labels(ys, nc);
    bool minority_became_majority = false;
    for (size_t c = 0; c < nc; ++c)
      if (static_cast<int>(c) != minority && counts[c] > 0 && counts[c] < counts0[minority])
        minority_became_majority = true;
    const bool class_removed = n_present(counts) < present0;
    if (converged || minority_became_majority || class_removed) break;
  }
  return out;
}

IterativeClean allknn_select(knn::View x, const std::vector<int32_t>& y,
                             const std::vector<std::string>& class_names,
                             const SamplingStrategy& strategy, size_t k, EnnKind kind,
                             bool allow_minority, int threads) {
  const size_t nc = class_names.size();
  const std::vector<int64_t> counts0 = count_labels(y, nc);
  const int minority = first_minority(y, counts0);
  const size_t present0 = n_present(counts0);
  IterativeClean out;
  out.kept.resize(x.rows);
  for (size_t i = 0; i < x.rows; ++i) out.kept[i] = i;
  for (size_t kk = 1; kk <= k; ++kk) {
    out.kept =
        enn_pass(x, y, out.kept, kk == 1, class_names, strategy, kk, kind, threads, "allknn");
    out.iterations = static_cast<int>(kk);
    std::vector<int32_t> ys(out.kept.size());
    for (size_t i = 0; i < out.kept.size(); ++i) ys[i] = y[out.kept[i]];
    const std::vector<int64_t> counts = count_labels(ys, nc);
    bool minority_became_majority = false;
    for (size_t c = 0; c < nc && !allow_minority; ++c)
      if (static_cast<int>(c) != minority && counts[c] > 0 && counts[c] < counts0[minority])
        minority_became_majority = true;
    const bool class_removed = n_present(counts) < present0;
    if (minority_became_majority || class_removed) break;
  }
  return out;
}

}  // namespace rareforge::classical
