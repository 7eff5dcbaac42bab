#include "core/split.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace rareforge {

namespace {

/// Row indices of each class, in row order.
std::vector<std::vector<size_t>> rows_by_class(const std::vector<int32_t>& labels,
                                               size_t n_classes) {
  std::vector<std::vector<size_t>> rows(n_classes);
  for (size_t i = 0; i < labels.size(); ++i) {
    RF_CHECK(labels[i] >= 0 && static_cast<size_t>(labels[i]) < n_classes,
             "label {} of row {} outside [0, {})", labels[i], i, n_classes);
    rows[labels[i]].push_back(i);
  }
  return rows;
}

/// Largest-remainder allocation of round(share * n) rows over classes of sizes `sizes`.
std::vector<int64_t> allocate(const std::vector<int64_t>& sizes, double share) {
  int64_t n = 0;
  for (int64_t s : sizes) n += s;
  const auto total = static_cast<int64_t>(std::llround(share * static_cast<double>(n)));
  std::vector<int64_t> out(sizes.size());
  std::vector<double> frac(sizes.size());
  int64_t given = 0;
  for (size_t c = 0; c < sizes.size(); ++c) {
    const double q = share * static_cast<double>(sizes[c]);
    out[c] = static_cast<int64_t>(std::floor(q));
    frac[c] = q - std::floor(q);
    given += out[c];
  }
  std::vector<size_t> order(sizes.size());
  for (size_t c = 0; c < order.size(); ++c) order[c] = c;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return frac[a] > frac[b]; });
  int64_t left = std::clamp<int64_t>(total - given, 0, static_cast<int64_t>(sizes.size()));
  for (size_t c : order) {
    if (left == 0) break;
    if (sizes[c] == 0 || out[c] >= sizes[c]) continue;
    ++out[c];
    --left;
  }
  return out;
}

}  // namespace

void SplitOptions::validate() const {
  RF_CHECK_INPUT(std::isfinite(test_share) && test_share > 0.0 && test_share < 1.0,
                 "--test-share must be in (0, 1), e.g. 0.2; got {}", test_share);
  RF_CHECK_INPUT(std::isfinite(val_share) && val_share >= 0.0 && val_share < 1.0,
                 "--val-share must be in [0, 1) (0 = no validation split); got {}", val_share);
  RF_CHECK_INPUT(test_share + val_share < 1.0,
                 "--test-share {} and --val-share {} leave no rows for training; their sum must "
                 "be below 1",
                 test_share, val_share);
}

SplitIndices stratified_split(const std::vector<int32_t>& labels,
                              const std::vector<std::string>& class_names, const SplitOptions& opt,
                              Rng& rng) {
  opt.validate();
  const size_t k = class_names.size();
  std::vector<std::vector<size_t>> rows = rows_by_class(labels, k);
  const bool with_val = opt.val_share > 0.0;
  const int64_t n_splits = with_val ? 3 : 2;

  std::vector<int64_t> sizes(k);
  for (size_t c = 0; c < k; ++c) {
    sizes[c] = static_cast<int64_t>(rows[c].size());
    if (sizes[c] == 0 || sizes[c] >= n_splits) continue;
    if (with_val)
      RF_THROW_INPUT(
          "class '{}' has {} row{}: cannot give at least one to each of train, validation and "
          "test; lower --val-share to 0 or drop the class",
          class_names[c], sizes[c], sizes[c] == 1 ? "" : "s");
    RF_THROW_INPUT(
        "class '{}' has 1 row: cannot give at least one to each of train and test; drop the "
        "class or add rows of it",
        class_names[c]);
  }

  std::vector<int64_t> n_test = allocate(sizes, opt.test_share);
  std::vector<int64_t> n_val =
      with_val ? allocate(sizes, opt.val_share) : std::vector<int64_t>(k, 0);
  for (size_t c = 0; c < k; ++c) {
    if (sizes[c] == 0) continue;
    n_test[c] = std::max<int64_t>(n_test[c], 1);
    if (with_val) n_val[c] = std::max<int64_t>(n_val[c], 1);
    while (sizes[c] - n_test[c] - n_val[c] < 1) {
      if (with_val && n_val[c] > n_test[c])
        --n_val[c];
      else
        --n_test[c];
    }
    RF_CHECK(n_test[c] >= 1 && (!with_val || n_val[c] >= 1), "split allocation for class {}", c);
  }

  SplitIndices out;
  for (size_t c = 0; c < k; ++c) {
    std::vector<size_t>& r = rows[c];
    rng.shuffle(r);
    const auto t = static_cast<size_t>(n_test[c]);
    const auto v = static_cast<size_t>(n_val[c]);
    out.test.insert(out.test.end(), r.begin(), r.begin() + t);
    out.val.insert(out.val.end(), r.begin() + t, r.begin() + t + v);
    out.train.insert(out.train.end(), r.begin() + t + v, r.end());
  }
  std::sort(out.train.begin(), out.train.end());
  std::sort(out.val.begin(), out.val.end());
  std::sort(out.test.begin(), out.test.end());
  return out;
}

SplitIndices stratified_split(const Table& table, const SplitOptions& opt, Rng& rng) {
  RF_CHECK(table.has_target(), "stratified_split: the table has no target column");
  return stratified_split(table.labels(), table.class_names(), opt, rng);
}

TableSplit split_table(const Table& table, const SplitOptions& opt, Rng& rng) {
  const SplitIndices s = stratified_split(table, opt, rng);
  TableSplit out;
  out.train = table.select(s.train);
  out.val = table.select(s.val);
  out.test = table.select(s.test);
  return out;
}

std::vector<Fold> stratified_kfold(const std::vector<int32_t>& labels,
                                   const std::vector<std::string>& class_names, int k, Rng& rng) {
  RF_CHECK_INPUT(k >= 2, "--folds must be at least 2; got {}", k);
  const size_t nc = class_names.size();
  std::vector<std::vector<size_t>> rows = rows_by_class(labels, nc);
  for (size_t c = 0; c < nc; ++c)
    RF_CHECK_INPUT(rows[c].empty() || rows[c].size() >= static_cast<size_t>(k),
                   "--folds {}: class '{}' has only {} row{}, so some fold would test without "
                   "it; lower --folds to at most {} or drop the class",
                   k, class_names[c], rows[c].size(), rows[c].size() == 1 ? "" : "s",
                   rows[c].size());
  std::vector<int> fold_of(labels.size(), 0);
  size_t deal = 0;
  for (size_t c = 0; c < nc; ++c) {
    rng.shuffle(rows[c]);
    for (size_t i : rows[c]) fold_of[i] = static_cast<int>(deal++ % static_cast<size_t>(k));
  }
  std::vector<Fold> folds(static_cast<size_t>(k));
  for (size_t i = 0; i < labels.size(); ++i)
    for (int f = 0; f < k; ++f) (fold_of[i] == f ? folds[f].test : folds[f].train).push_back(i);
  return folds;
}

std::vector<Fold> stratified_kfold(const Table& table, int k, Rng& rng) {
  RF_CHECK(table.has_target(), "stratified_kfold: the table has no target column");
  return stratified_kfold(table.labels(), table.class_names(), k, rng);
}

}  // namespace rareforge
