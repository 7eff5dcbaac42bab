// Stratified train/validation/test split and stratified k-fold.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/rng.h"
#include "core/split.h"
#include "core/table.h"

namespace rareforge {
namespace {

/// Labels with `counts[c]` rows of class c, interleaved deterministically.
std::vector<int32_t> make_labels(const std::vector<int>& counts, uint64_t seed = 7) {
  std::vector<int32_t> y;
  for (size_t c = 0; c < counts.size(); ++c) y.insert(y.end(), counts[c], static_cast<int>(c));
  Rng rng(seed);
  rng.shuffle(y);
  return y;
}

std::vector<std::string> names_for(size_t k) {
  std::vector<std::string> n;
  for (size_t c = 0; c < k; ++c) n.push_back("c" + std::to_string(c));
  return n;
}

std::vector<int64_t> count_in(const std::vector<size_t>& rows, const std::vector<int32_t>& y,
                              size_t k) {
  std::vector<int64_t> n(k, 0);
  for (size_t r : rows) ++n[y[r]];
  return n;
}

void expect_partition(const SplitIndices& s, size_t n) {
  for (const auto* v : {&s.train, &s.val, &s.test})
    EXPECT_TRUE(std::is_sorted(v->begin(), v->end()));
  std::vector<size_t> all;
  all.insert(all.end(), s.train.begin(), s.train.end());
  all.insert(all.end(), s.val.begin(), s.val.end());
  all.insert(all.end(), s.test.begin(), s.test.end());
  std::sort(all.begin(), all.end());
  std::vector<size_t> want(n);
  std::iota(want.begin(), want.end(), size_t{0});
  EXPECT_EQ(all, want);  // disjoint and covering
}

TEST(Split, CountsPerClassFollowLargestRemainder) {
  // 1000 rows: 900 / 73 / 27; test share 0.2 -> 200 test rows in total.
  // Quotas 180, 14.6, 5.4: floors 180 + 14 + 5 = 199, the one left goes to the largest
  // fraction (class 1, 0.6) -> 180 / 15 / 5.
  const auto y = make_labels({900, 73, 27});
  Rng rng(1);
  const SplitIndices s = stratified_split(y, names_for(3), {0.2, 0.0}, rng);
  expect_partition(s, y.size());
  EXPECT_TRUE(s.val.empty());
  EXPECT_EQ(count_in(s.test, y, 3), (std::vector<int64_t>{180, 15, 5}));
  EXPECT_EQ(count_in(s.train, y, 3), (std::vector<int64_t>{720, 58, 22}));
}

TEST(Split, ThreeWayTotalsAreCloseToTheShares) {
  // 503 rows over 5 classes; test 0.25 -> round(125.75) = 126; val 0.15 -> round(75.45) = 75.
  const auto y = make_labels({300, 101, 57, 33, 12});
  Rng rng(3);
  const SplitIndices s = stratified_split(y, names_for(5), {0.25, 0.15}, rng);
  expect_partition(s, y.size());
  EXPECT_EQ(s.test.size(), 126u);
  EXPECT_EQ(s.val.size(), 75u);
  const auto t = count_in(s.test, y, 5), v = count_in(s.val, y, 5), tr = count_in(s.train, y, 5);
  const std::vector<int> n = {300, 101, 57, 33, 12};
  for (size_t c = 0; c < 5; ++c) {
    EXPECT_LE(std::abs(static_cast<double>(t[c]) - 0.25 * n[c]), 1.0) << "class " << c;
    EXPECT_LE(std::abs(static_cast<double>(v[c]) - 0.15 * n[c]), 1.0) << "class " << c;
    EXPECT_GE(tr[c], 1);
  }
}

TEST(Split, TinyClassesKeepOneRowInEverySplit) {
  // Classes 1 and 2 have 3 rows each: their quotas (0.3) round to 0 or 1, but every split still
  // gets one row of each.
  const auto y = make_labels({200, 3, 3});
  Rng rng(5);
  const SplitIndices s = stratified_split(y, names_for(3), {0.1, 0.1}, rng);
  expect_partition(s, y.size());
  EXPECT_EQ(count_in(s.test, y, 3), (std::vector<int64_t>{20, 1, 1}));
  EXPECT_EQ(count_in(s.val, y, 3), (std::vector<int64_t>{20, 1, 1}));
  EXPECT_EQ(count_in(s.train, y, 3), (std::vector<int64_t>{160, 1, 1}));
  // A large test share cannot take a class's last training row: 2 rows, share 0.9 would give
  // 2 test rows (largest remainder), clamped to 1.
  const auto y2 = make_labels({200, 2});
  const SplitIndices s2 = stratified_split(y2, names_for(2), {0.9, 0.0}, rng);
  EXPECT_EQ(count_in(s2.test, y2, 2), (std::vector<int64_t>{180, 1}));
  EXPECT_EQ(count_in(s2.train, y2, 2), (std::vector<int64_t>{20, 1}));
}

TEST(Split, DeterministicBySeedAndDifferentAcrossSeeds) {
  const auto y = make_labels({500, 60, 20});
  Rng a(42), b(42), c(43);
  const SplitIndices sa = stratified_split(y, names_for(3), {0.3, 0.1}, a);
  const SplitIndices sb = stratified_split(y, names_for(3), {0.3, 0.1}, b);
  const SplitIndices sc = stratified_split(y, names_for(3), {0.3, 0.1}, c);
  EXPECT_EQ(sa.train, sb.train);
  EXPECT_EQ(sa.val, sb.val);
  EXPECT_EQ(sa.test, sb.test);
  EXPECT_NE(sa.test, sc.test);
  // Counts depend only on the labels, not the seed.
  EXPECT_EQ(count_in(sa.test, y, 3), count_in(sc.test, y, 3));
}

TEST(Split, ErrorNamesTheClass) {
  const auto y = make_labels({50, 2, 9});
  const auto names = std::vector<std::string>{"ok", "bad", "fine"};
  Rng rng(1);
  try {
    stratified_split(y, names, {0.2, 0.1}, rng);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "class 'bad' has 2 rows: cannot give at least one to each of train, "
                  "validation and test"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("--val-share"), std::string::npos) << e.what();
  }
  // Two splits are fine for 2 rows; one row is not.
  EXPECT_NO_THROW(stratified_split(y, names, {0.2, 0.0}, rng));
  const auto y1 = make_labels({50, 1});
  try {
    stratified_split(y1, {"ok", "lonely"}, {0.2, 0.0}, rng);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("class 'lonely' has 1 row"), std::string::npos)
        << e.what();
  }
}

TEST(Split, BadSharesNameTheFlag) {
  const auto y = make_labels({50, 20});
  Rng rng(1);
  for (auto [t, v, flag] :
       {std::make_tuple(0.0, 0.0, "--test-share"), std::make_tuple(1.0, 0.0, "--test-share"),
        std::make_tuple(0.2, -0.1, "--val-share"), std::make_tuple(0.6, 0.4, "--val-share")}) {
    try {
      stratified_split(y, names_for(2), {t, v}, rng);
      ADD_FAILURE() << t << " " << v;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(flag), std::string::npos) << e.what();
    }
  }
}

TEST(Split, TableSplitKeepsFileOrderAndCategories) {
  Table t;
  std::vector<double> x(40);
  std::iota(x.begin(), x.end(), 0.0);
  std::vector<int32_t> y(40, 0);
  for (size_t i = 0; i < 40; i += 5) y[i] = 1;
  t.add_column(Column::numeric("x", x));
  t.add_column(Column::categorical("y", {"neg", "pos", "never"}, y));
  t.set_target("y");
  Rng rng(9);
  const TableSplit s = split_table(t, {0.25, 0.0}, rng);
  EXPECT_EQ(s.train.n_rows() + s.test.n_rows(), 40u);
  EXPECT_EQ(s.test.n_rows(), 10u);
  EXPECT_EQ(s.test.class_counts(), (std::vector<int64_t>{8, 2, 0}));
  EXPECT_EQ(s.test.class_names(), t.class_names());
  EXPECT_TRUE(std::is_sorted(s.test.column(0).num.begin(), s.test.column(0).num.end()));
  EXPECT_EQ(s.val.n_rows(), 0u);
}

TEST(KFold, StratifiedAndBalanced) {
  const auto y = make_labels({103, 17, 5});
  Rng rng(11);
  const auto folds = stratified_kfold(y, names_for(3), 5, rng);
  ASSERT_EQ(folds.size(), 5u);
  std::vector<int> seen(y.size(), 0);
  size_t min_size = y.size(), max_size = 0;
  for (const Fold& f : folds) {
    EXPECT_TRUE(std::is_sorted(f.test.begin(), f.test.end()));
    EXPECT_TRUE(std::is_sorted(f.train.begin(), f.train.end()));
    EXPECT_EQ(f.train.size() + f.test.size(), y.size());
    std::vector<size_t> both;
    std::set_intersection(f.train.begin(), f.train.end(), f.test.begin(), f.test.end(),
                          std::back_inserter(both));
    EXPECT_TRUE(both.empty());
    for (size_t r : f.test) ++seen[r];
    const auto n = count_in(f.test, y, 3);
    EXPECT_TRUE(n[0] == 20 || n[0] == 21) << n[0];
    EXPECT_TRUE(n[1] == 3 || n[1] == 4) << n[1];
    EXPECT_EQ(n[2], 1);
    min_size = std::min(min_size, f.test.size());
    max_size = std::max(max_size, f.test.size());
  }
  EXPECT_LE(max_size - min_size, 1u);
  for (int s : seen) EXPECT_EQ(s, 1);  // every row tested exactly once

  Rng again(11), other(12);
  const auto folds2 = stratified_kfold(y, names_for(3), 5, again);
  const auto folds3 = stratified_kfold(y, names_for(3), 5, other);
  for (size_t f = 0; f < 5; ++f) EXPECT_EQ(folds[f].test, folds2[f].test);
  bool differ = false;
  for (size_t f = 0; f < 5; ++f) differ = differ || folds[f].test != folds3[f].test;
  EXPECT_TRUE(differ);
}

TEST(KFold, TooFewRowsNamesTheClass) {
  const auto y = make_labels({100, 4});
  Rng rng(1);
  try {
    stratified_kfold(y, {"ok", "rare"}, 5, rng);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("class 'rare' has only 4 rows"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("--folds"), std::string::npos) << e.what();
  }
  EXPECT_THROW(stratified_kfold(y, {"ok", "rare"}, 1, rng), InputError);
}

}  // namespace
}  // namespace rareforge
