// Tests of the under-samplers, cleaners and combined methods (classical/cleaners.cpp,
// classical/cleaning.h). Every cleaner is compared row for row with a brute-force reference
// written here from imbalanced-learn 0.10's rules, on small random data drawn from a coarse
// integer grid so that distance ties and exact duplicates (also across classes) are common.
// Neighbour order in the reference: (squared distance, row index), own row skipped by index.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "classical/cleaning.h"
#include "classical/sampler.h"
#include "core/error.h"
#include "core/io.h"
#include "core/table.h"
#include "tests/test_util.h"

namespace rareforge::classical {
namespace {

using Rows = std::vector<std::vector<double>>;

// A table with numeric features f0.. and a categorical target "y" with classes "0".."K-1".
Table make_table(const Rows& x, const std::vector<int32_t>& y, size_t n_classes) {
  Table t;
  const size_t d = x.empty() ? 0 : x[0].size();
  for (size_t j = 0; j < d; ++j) {
    std::vector<double> col(x.size());
    for (size_t i = 0; i < x.size(); ++i) col[i] = x[i][j];
    t.add_column(Column::numeric("f" + std::to_string(j), col));
  }
  std::vector<std::string> names;
  for (size_t c = 0; c < n_classes; ++c) names.push_back(std::to_string(c));
  t.add_column(Column::categorical("y", names, y));
  t.set_target("y");
  return t;
}

struct Data {
  Rows x;
  std::vector<int32_t> y;
  size_t n_classes = 2;
  Table table() const { return make_table(x, y, n_classes); }
};

// n rows on the grid {0..levels-1}^d; class c with weight weights[c]. A few rows are copied with
// another label so that cross-class duplicates appear.
Data random_data(uint32_t seed, size_t n, size_t d, std::vector<double> weights, int levels = 4) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> cell(0, levels - 1);
  std::discrete_distribution<int> cls(weights.begin(), weights.end());
  Data data;
  data.n_classes = weights.size();
  for (size_t i = 0; i < n; ++i) {
    std::vector<double> row(d);
    for (auto& v : row) v = cell(gen);
    data.x.push_back(row);
    data.y.push_back(cls(gen));
  }
  // Every class needs rows: force the first rows to cover all classes.
  for (size_t c = 0; c < data.n_classes && c < n; ++c) data.y[c] = static_cast<int32_t>(c);
  for (size_t r = 0; r < n / 10; ++r) {
    const size_t src = gen() % data.x.size();
    data.x.push_back(data.x[src]);
    data.y.push_back(static_cast<int32_t>((data.y[src] + 1) % data.n_classes));
  }
  return data;
}

std::string describe(const Data& d) {
  std::ostringstream s;
  s << d.x.size() << " rows x " << (d.x.empty() ? 0 : d.x[0].size()) << " features, " << d.n_classes
    << " classes";
  return s.str();
}

double sqdist(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t j = 0; j < a.size(); ++j) s += (a[j] - b[j]) * (a[j] - b[j]);
  return s;
}

// The k nearest other rows of row i among `rows` (indices into x), by (distance, index).
std::vector<size_t> brute_knn(const Rows& x, const std::vector<size_t>& rows, size_t i, size_t k) {
  std::vector<std::pair<double, size_t>> c;
  for (size_t j : rows)
    if (j != i) c.emplace_back(sqdist(x[i], x[j]), j);
  std::sort(c.begin(), c.end());
  std::vector<size_t> out;
  for (size_t r = 0; r < k && r < c.size(); ++r) out.push_back(c[r].second);
  return out;
}

std::vector<int64_t> counts_of(const std::vector<int32_t>& y, const std::vector<size_t>& rows,
                               size_t nc) {
  std::vector<int64_t> n(nc, 0);
  for (size_t i : rows) ++n[static_cast<size_t>(y[i])];
  return n;
}

// Classes a cleaning strategy selects: "auto" = not minority (ties: lowest label), "all".
std::vector<uint8_t> clean_set(const std::string& strategy, const std::vector<int64_t>& counts) {
  std::vector<uint8_t> clean(counts.size(), 0);
  int mino = -1;
  for (size_t c = 0; c < counts.size(); ++c)
    if (counts[c] > 0 && (mino < 0 || counts[c] < counts[static_cast<size_t>(mino)]))
      mino = static_cast<int>(c);
  for (size_t c = 0; c < counts.size(); ++c)
    clean[c] = counts[c] > 0 && (strategy == "all" || static_cast<int>(c) != mino);
  return clean;
}

// One ENN pass over `rows`; returns the surviving rows.
std::vector<size_t> brute_enn(const Data& d, const std::vector<size_t>& rows,
                              const std::string& strategy, size_t k, const std::string& kind) {
  const auto clean = clean_set(strategy, counts_of(d.y, rows, d.n_classes));
  std::vector<size_t> out;
  for (size_t i : rows) {
    bool keep = true;
    if (clean[static_cast<size_t>(d.y[i])]) {
      const auto nn = brute_knn(d.x, rows, i, k);
      if (kind == "all") {
        for (size_t j : nn) keep = keep && d.y[j] == d.y[i];
      } else {
        std::vector<int> votes(d.n_classes, 0);
        for (size_t j : nn) ++votes[static_cast<size_t>(d.y[j])];
        int mode = 0;
        for (size_t c = 1; c < d.n_classes; ++c)
          if (votes[c] > votes[static_cast<size_t>(mode)]) mode = static_cast<int>(c);
        keep = mode == d.y[i];
      }
    }
    if (keep) out.push_back(i);
  }
  return out;
}

std::vector<size_t> all_rows(size_t n) {
  std::vector<size_t> r(n);
  for (size_t i = 0; i < n; ++i) r[i] = i;
  return r;
}

// imbalanced-learn's stopping tests after a pass of RENN / AllKNN.
struct Stop {
  bool minority_became_majority = false;
  bool class_removed = false;
};
Stop stop_rules(const Data& d, const std::vector<size_t>& rows) {
  const auto c0 = counts_of(d.y, all_rows(d.x.size()), d.n_classes);
  const auto c1 = counts_of(d.y, rows, d.n_classes);
  // Python: min(Counter(y)) -> the smallest count, ties to the label appearing first in y.
  int64_t mn = -1;
  for (auto v : c0)
    if (v > 0 && (mn < 0 || v < mn)) mn = v;
  int minority = -1;
  for (int32_t v : d.y)
    if (c0[static_cast<size_t>(v)] == mn) {
      minority = v;
      break;
    }
  Stop s;
  size_t p0 = 0, p1 = 0;
  for (size_t c = 0; c < d.n_classes; ++c) {
    p0 += c0[c] > 0;
    p1 += c1[c] > 0;
    if (static_cast<int>(c) != minority && c1[c] > 0 && c1[c] < mn)
      s.minority_became_majority = true;
  }
  s.class_removed = p1 < p0;
  return s;
}

std::vector<size_t> brute_renn(const Data& d, const std::string& strategy, size_t k,
                               const std::string& kind, int max_iter) {
  std::vector<size_t> rows = all_rows(d.x.size());
  for (int it = 0; it < max_iter; ++it) {
    auto next = brute_enn(d, rows, strategy, k, kind);
    const bool conv = next.size() == rows.size();
    rows = next;
    const Stop s = stop_rules(d, rows);
    if (conv || s.minority_became_majority || s.class_removed) break;
  }
  return rows;
}

std::vector<size_t> brute_allknn(const Data& d, const std::string& strategy, size_t k,
                                 const std::string& kind, bool allow_minority) {
  std::vector<size_t> rows = all_rows(d.x.size());
  for (size_t kk = 1; kk <= k; ++kk) {
    rows = brute_enn(d, rows, strategy, kk, kind);
    const Stop s = stop_rules(d, rows);
    if ((s.minority_became_majority && !allow_minority) || s.class_removed) break;
  }
  return rows;
}

std::vector<size_t> brute_tomek(const Data& d, const std::string& strategy) {
  const size_t n = d.x.size();
  const auto rows = all_rows(n);
  const auto clean = clean_set(strategy, counts_of(d.y, rows, d.n_classes));
  std::vector<size_t> nn(n);
  for (size_t i = 0; i < n; ++i) nn[i] = brute_knn(d.x, rows, i, 1)[0];
  std::vector<size_t> out;
  for (size_t i = 0; i < n; ++i) {
    const bool link = d.y[nn[i]] != d.y[i] && nn[nn[i]] == i;
    if (!(link && clean[static_cast<size_t>(d.y[i])])) out.push_back(i);
  }
  return out;
}

Context ctx_with(uint64_t seed, int threads = 2) {
  Context c;
  c.seed = seed;
  c.threads = threads;
  c.quiet = true;
  return c;
}

ResampleResult run(const std::string& spec, const Table& t, const std::string& strategy = "auto",
                   uint64_t seed = 1) {
  SamplingRequest req;
  req.strategy = strategy;
  return make_sampler(spec)->resample(t, req, ctx_with(seed));
}

// The output is the input rows `expected` in order, with matching counts and provenance.
void expect_kept(const Data& d, const ResampleResult& r, const std::vector<size_t>& expected,
                 const std::string& what) {
  SCOPED_TRACE(what + " on " + describe(d));
  ASSERT_EQ(r.kept, expected);
  ASSERT_EQ(r.table.n_rows(), expected.size());
  ASSERT_EQ(r.table.n_synthetic(), 0u);
  const auto before = counts_of(d.y, all_rows(d.x.size()), d.n_classes);
  const auto after = counts_of(d.y, expected, d.n_classes);
  for (size_t c = 0; c < d.n_classes; ++c) {
    EXPECT_EQ(r.removed[c], before[c] - after[c]) << "class " << c;
    EXPECT_EQ(r.made[c], 0) << "class " << c;
  }
  const Column& f0 = r.table.column("f0");
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_EQ(r.table.labels()[i], d.y[expected[i]]);
    ASSERT_EQ(f0.num[i], d.x[expected[i]][0]);
    ASSERT_EQ(r.table.provenance().parent[i], static_cast<int64_t>(expected[i]));
  }
}

struct Shape {
  uint32_t seed;
  size_t n, d;
  std::vector<double> weights;
  int levels;
};

const std::vector<Shape>& shapes() {
  static const std::vector<Shape> s = {
      {1, 80, 2, {0.7, 0.3}, 4},   {2, 150, 3, {0.6, 0.3, 0.1}, 3},
      {3, 120, 2, {0.5, 0.5}, 5},  {4, 200, 4, {0.5, 0.2, 0.2, 0.1}, 3},
      {5, 60, 1, {0.8, 0.2}, 6},   {6, 300, 2, {0.9, 0.1}, 8},
      {7, 100, 20, {0.7, 0.3}, 2},  // 20 features: the brute-force path of the engine
  };
  return s;
}

TEST(Enn, MatchesBruteForce) {
  size_t total_removed = 0;
  for (const Shape& sh : shapes()) {
    const Data d = random_data(sh.seed, sh.n, sh.d, sh.weights, sh.levels);
    const Table t = d.table();
    for (const std::string kind : {"all", "mode"})
      for (const std::string strategy : {"auto", "all"})
        for (size_t k : {1, 3, 5}) {
          const auto expected = brute_enn(d, all_rows(d.x.size()), strategy, k, kind);
          total_removed += d.x.size() - expected.size();
          const std::string spec = "enn:k=" + std::to_string(k) + ",kind=" + kind;
          expect_kept(d, run(spec, t, strategy), expected, spec + " strategy " + strategy);
        }
  }
  EXPECT_GT(total_removed, 100u);  // the comparison is not vacuous
}

TEST(Enn, ModeTieGoesToSmallestLabel) {
  // Row 0 (class 1) has neighbours: rows 1 (class 0) and 2 (class 1) at equal distance 1, then
  // far rows. With k=2 the vote is 1:1 -> mode = class 0 -> row 0 is removed.
  Data d;
  d.n_classes = 2;
  d.x = {{0}, {1}, {-1}, {10}, {11}, {12}};
  d.y = {1, 0, 1, 0, 0, 0};
  const auto r = run("enn:k=2,kind=mode", d.table(), "all");
  EXPECT_EQ(std::count(r.kept.begin(), r.kept.end(), 0u), 0);
  // Same data with kind=all removes it as well (one disagreeing neighbour suffices).
  const auto a = run("enn:k=2,kind=all", d.table(), "all");
  EXPECT_EQ(std::count(a.kept.begin(), a.kept.end(), 0u), 0);
}

TEST(Enn, SelfExcludedByIndexWithDuplicates) {
  // Rows 0 and 1 are the same point with different classes; rows 2, 3 are class 0 nearby.
  // Self excluded by index: row 0's nearest neighbour is row 1 (class 1) -> removed with k=1.
  Data d;
  d.n_classes = 2;
  d.x = {{0, 0}, {0, 0}, {0, 1}, {1, 0}, {5, 5}, {5, 6}};
  d.y = {0, 1, 0, 0, 1, 1};
  const auto r = run("enn:k=1", d.table(), "all");
  EXPECT_EQ(r.kept, (std::vector<size_t>{2, 3, 4, 5}));
}

TEST(Enn, KLoweredWhenTooFewRows) {
  Data d;
  d.n_classes = 2;
  d.x = {{0}, {1}, {2}};
  d.y = {0, 0, 1};
  const auto r = run("enn:k=10", d.table(), "all");  // k -> 2
  EXPECT_EQ(r.kept, brute_enn(d, all_rows(3), "all", 2, "all"));
}

TEST(Enn, NanIsAnInputErrorNamingTheColumn) {
  Data d;
  d.n_classes = 2;
  d.x = {{0, 1}, {1, NAN}, {2, 3}, {3, 3}};
  d.y = {0, 0, 1, 1};
  try {
    run("enn", d.table());
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("'f1'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("impute"), std::string::npos) << e.what();
  }
}

TEST(Enn, CategoricalFeaturesAreOneHot) {
  // A categorical feature: rows differ only in it; one-hot distance sqrt(2) between categories.
  Table t;
  t.add_column(Column::numeric("f0", {0, 0, 0, 0, 0, 0}));
  t.add_column(Column::categorical("c", {"a", "b"}, {0, 0, 0, 1, 1, 1}));
  t.add_column(Column::categorical("y", {"0", "1"}, {0, 0, 1, 1, 1, 1}));
  t.set_target("y");
  const auto r = run("enn:k=2", t, "all");
  // Rows 0,1,2 share category a: rows 0,1 (class 0) have neighbours {1 or 0, 2} -> one of class
  // 1 -> removed; row 2 (class 1) has neighbours rows 0,1 (class 0) -> removed. Rows 3-5 agree.
  EXPECT_EQ(r.kept, (std::vector<size_t>{3, 4, 5}));
}

TEST(Enn, StrategyListsAndErrors) {
  const Data d = random_data(11, 120, 2, {0.5, 0.3, 0.2});
  const Table t = d.table();
  // Clean only class 2 (a class list).
  const auto r = run("enn", t, "2");
  for (size_t c : {0, 1}) EXPECT_EQ(r.removed[c], 0) << c;
  EXPECT_GT(r.removed[2], 0);
  EXPECT_THROW(run("enn", t, "minority"), InputError);
  EXPECT_THROW(run("enn", t, "0=5"), InputError);
  EXPECT_THROW(run("enn:kind=median", t), InputError);
  EXPECT_THROW(run("enn:k=0", t), InputError);
}

TEST(Renn, MatchesBruteForce) {
  size_t total_iters_gt1 = 0;
  for (const Shape& sh : shapes()) {
    const Data d = random_data(sh.seed, sh.n, sh.d, sh.weights, sh.levels);
    const Table t = d.table();
    for (const std::string kind : {"all", "mode"})
      for (const std::string strategy : {"auto", "all"})
        for (size_t k : {1, 3}) {
          const auto expected = brute_renn(d, strategy, k, kind, 100);
          const auto once = brute_enn(d, all_rows(d.x.size()), strategy, k, kind);
          total_iters_gt1 += expected.size() < once.size();
          const std::string spec = "renn:k=" + std::to_string(k) + ",kind=" + kind;
          expect_kept(d, run(spec, t, strategy), expected, spec + " strategy " + strategy);
        }
  }
  EXPECT_GT(total_iters_gt1, 3u);  // several cases really repeat
  // max_iter bounds the passes.
  const Data d = random_data(2, 150, 3, {0.6, 0.3, 0.1}, 3);
  expect_kept(d, run("renn:max_iter=1", d.table(), "all"), brute_renn(d, "all", 3, "all", 1),
              "renn max_iter=1");
}

TEST(Renn, IterationCountAndStops) {
  const Data d = random_data(6, 300, 2, {0.9, 0.1}, 8);
  const MatrixRM x = d.table().to_dense();
  const auto r =
      renn_select(x, d.y, {"0", "1"}, SamplingStrategy::parse("auto"), 3, EnnKind::kAll, 100, 1);
  EXPECT_GE(r.iterations, 1);
  EXPECT_EQ(r.kept, brute_renn(d, "auto", 3, "all", 100));
}

TEST(AllKnn, MatchesBruteForce) {
  for (const Shape& sh : shapes()) {
    const Data d = random_data(sh.seed, sh.n, sh.d, sh.weights, sh.levels);
    const Table t = d.table();
    for (const std::string kind : {"all", "mode"})
      for (const std::string strategy : {"auto", "all"})
        for (bool allow : {false, true}) {
          const auto expected = brute_allknn(d, strategy, 3, kind, allow);
          const std::string spec =
              std::string("allknn:kind=") + kind + ",allow_minority=" + (allow ? "true" : "false");
          expect_kept(d, run(spec, t, strategy), expected, spec + " strategy " + strategy);
        }
  }
}

TEST(Tomek, MatchesBruteForce) {
  size_t total_removed = 0;
  for (const Shape& sh : shapes()) {
    const Data d = random_data(sh.seed, sh.n, sh.d, sh.weights, sh.levels);
    for (const std::string strategy : {"auto", "all", "majority"}) {
      std::vector<size_t> expected;
      if (strategy == "majority") {
        // Only the majority class (ties: lowest label).
        const auto counts = counts_of(d.y, all_rows(d.x.size()), d.n_classes);
        const auto maj = std::max_element(counts.begin(), counts.end()) - counts.begin();
        const auto all = brute_tomek(d, "all");
        for (size_t i = 0; i < d.x.size(); ++i)
          if (d.y[i] != maj || std::binary_search(all.begin(), all.end(), i)) expected.push_back(i);
      } else {
        expected = brute_tomek(d, strategy);
      }
      total_removed += d.x.size() - expected.size();
      expect_kept(d, run("tomek", d.table(), strategy), expected, "tomek " + strategy);
    }
  }
  EXPECT_GT(total_removed, 20u);
}

TEST(Tomek, LinkRemovesMajorityMemberOnlyByDefault) {
  Data d;
  d.n_classes = 2;
  d.x = {{0}, {1}, {2}, {3}, {3.4}, {10}};
  d.y = {0, 0, 0, 0, 1, 1};
  // Row 3 (class 0) and row 4 (class 1) are a link; auto removes the majority member only.
  EXPECT_EQ(run("tomek", d.table()).kept, (std::vector<size_t>{0, 1, 2, 4, 5}));
  EXPECT_EQ(run("tomek", d.table(), "all").kept, (std::vector<size_t>{0, 1, 2, 5}));
}

TEST(RandomUnder, CountsAndDeterminism) {
  const Data d = random_data(21, 500, 2, {0.6, 0.3, 0.1});
  const Table t = d.table();
  const auto counts = t.class_counts();
  const int64_t n_min = *std::min_element(counts.begin(), counts.end());
  for (bool replacement : {false, true}) {
    const std::string spec = std::string("random-under:replacement=") + (replacement ? "1" : "0");
    const auto a = run(spec, t, "auto", 7);
    const auto b = run(spec, t, "auto", 7);
    const auto c = run(spec, t, "auto", 8);
    EXPECT_EQ(a.kept, b.kept);
    EXPECT_NE(a.kept, c.kept);
    EXPECT_TRUE(std::is_sorted(a.kept.begin(), a.kept.end()));
    const auto after = a.table.class_counts();
    for (size_t k = 0; k < counts.size(); ++k) EXPECT_EQ(after[k], n_min) << "class " << k;
    if (!replacement) {
      EXPECT_EQ(std::set<size_t>(a.kept.begin(), a.kept.end()).size(), a.kept.size());
      for (size_t k = 0; k < counts.size(); ++k)
        EXPECT_EQ(a.removed[k], counts[k] - n_min) << "class " << k;
    }
    for (size_t i = 0; i < a.kept.size(); ++i) EXPECT_EQ(a.table.labels()[i], d.y[a.kept[i]]);
  }
  // The minority is untouched under auto, without replacement.
  const auto r = run("random-under", t, "auto", 3);
  const auto mino = std::min_element(counts.begin(), counts.end()) - counts.begin();
  size_t kept_min = 0;
  for (size_t i : r.kept) kept_min += d.y[i] == mino;
  EXPECT_EQ(static_cast<int64_t>(kept_min), n_min);
  // Explicit counts.
  const auto e = run("random-under", t, "0=50,1=40");
  EXPECT_EQ(e.table.class_counts(), (std::vector<int64_t>{50, 40, counts[2]}));
  EXPECT_THROW(run("random-under", t, "0=100000"), InputError);
}

TEST(RandomUnder, EachSubsetIsUniform) {
  // 4 rows of class 0 reduced to 2: each of the 6 subsets should appear about equally often.
  Data d;
  d.n_classes = 2;
  d.x = {{0}, {1}, {2}, {3}, {4}, {5}};
  d.y = {0, 0, 0, 0, 1, 1};
  std::map<std::vector<size_t>, int> seen;
  const int trials = 3000;
  for (int s = 0; s < trials; ++s) ++seen[run("random-under", d.table(), "auto", s).kept];
  EXPECT_EQ(seen.size(), 6u);
  for (const auto& [rows, n] : seen) EXPECT_NEAR(n, trials / 6.0, 5 * std::sqrt(trials / 6.0));
}

// --- combined methods ------------------------------------------------------------------------

// The SMOTE step of the combined methods is the registered `smote`; with the same seed and
// request the combined method must keep exactly the rows that ENN / Tomek (brute force, every
// class) keep of smote's own output.
void check_combined(const std::string& spec, const std::string& smote_spec, bool enn, const Data& d,
                    const std::string& strategy) {
  SCOPED_TRACE(spec + " strategy " + strategy + " on " + describe(d));
  const Table t = d.table();
  const ResampleResult over = run(smote_spec, t, strategy, 5);
  const ResampleResult res = run(spec, t, strategy, 5);
  // The over-sampled data as a Data, for the brute-force cleaners.
  Data o;
  o.n_classes = d.n_classes;
  const MatrixRM xo = over.table.to_dense();
  for (Eigen::Index i = 0; i < xo.rows(); ++i)
    o.x.emplace_back(xo.row(i).data(), xo.row(i).data() + xo.cols());
  o.y = over.table.labels();
  const auto keep =
      enn ? brute_enn(o, all_rows(o.x.size()), "all", 3, "all") : brute_tomek(o, "all");
  std::vector<size_t> exp_orig, exp_syn;
  for (size_t i : keep) (i < d.x.size() ? exp_orig : exp_syn).push_back(i);
  ASSERT_EQ(res.kept, exp_orig);
  ASSERT_EQ(res.table.n_rows(), exp_orig.size() + exp_syn.size());
  ASSERT_EQ(res.table.n_synthetic(), exp_syn.size());
  // Counts: made = synthetic rows kept, removed = original rows dropped.
  const auto before = t.class_counts();
  std::vector<int64_t> made(d.n_classes, 0), kept(d.n_classes, 0);
  for (size_t i : exp_syn) ++made[static_cast<size_t>(o.y[i])];
  for (size_t i : exp_orig) ++kept[static_cast<size_t>(d.y[i])];
  for (size_t c = 0; c < d.n_classes; ++c) {
    EXPECT_EQ(res.made[c], made[c]);
    EXPECT_EQ(res.removed[c], before[c] - kept[c]);
  }
  // Synthetic rows: same values and provenance as smote's, method = the combined spec.
  const Provenance& p = res.table.provenance();
  const Provenance& po = over.table.provenance();
  const MatrixRM xr = res.table.to_dense();
  for (size_t s = 0; s < exp_syn.size(); ++s) {
    const size_t i = exp_orig.size() + s, j = exp_syn[s];
    ASSERT_EQ(p.synthetic[i], 1);
    EXPECT_EQ(p.parent[i], po.parent[j]);
    EXPECT_EQ(p.neighbor[i], po.neighbor[j]);
    EXPECT_EQ(p.gap[i], po.gap[j]);
    EXPECT_EQ(p.methods[static_cast<size_t>(p.method[i])].rfind(spec.substr(0, spec.find(':')), 0),
              0u)
        << p.methods[static_cast<size_t>(p.method[i])];
    EXPECT_EQ(res.table.labels()[i], o.y[j]);
    for (Eigen::Index c = 0; c < xr.cols(); ++c)
      ASSERT_EQ(xr(static_cast<Eigen::Index>(i), c), xo(static_cast<Eigen::Index>(j), c));
  }
  for (size_t i = 0; i < exp_orig.size(); ++i) {
    EXPECT_EQ(p.synthetic[i], 0);
    EXPECT_EQ(p.parent[i], static_cast<int64_t>(exp_orig[i]));
  }
}

TEST(Combined, MatchBruteForceOnSmoteOutput) {
  if (!find_sampler("smote")) GTEST_SKIP() << "smote is not registered yet";
  for (uint32_t seed : {31u, 32u, 33u}) {
    // Continuous data (no grid) plus the grid data with duplicates.
    Data d = random_data(seed, 150, 3, {0.75, 0.25}, 1000);
    for (auto& r : d.x)
      for (auto& v : r) v /= 100.0;
    check_combined("smote-enn", "smote:k=5", true, d, "auto");
    check_combined("smote-tomek", "smote:k=5", false, d, "auto");
    const Data g = random_data(seed, 200, 2, {0.6, 0.3, 0.1}, 5);
    check_combined("smote-enn", "smote:k=5", true, g, "auto");
    check_combined("smote-tomek", "smote:k=5", false, g, "auto");
    check_combined("smote-enn:k=3", "smote:k=3", true, g, "minority");
  }
}

TEST(Combined, DeterministicForSeed) {
  if (!find_sampler("smote")) GTEST_SKIP() << "smote is not registered yet";
  const Data d = random_data(41, 200, 3, {0.8, 0.2}, 1000);
  const Table t = d.table();
  for (const std::string spec : {"smote-enn", "smote-tomek"}) {
    const auto a = run(spec, t, "auto", 9), b = run(spec, t, "auto", 9);
    EXPECT_EQ(a.kept, b.kept);
    EXPECT_TRUE(a.table.to_dense() == b.table.to_dense());
    // resample_owned (the input moved in) gives the same result.
    Table moved = t;
    const auto o =
        make_sampler(spec)->resample_owned(std::move(moved), SamplingRequest{}, ctx_with(9));
    EXPECT_EQ(o.kept, a.kept);
    EXPECT_EQ(o.made, a.made);
    EXPECT_EQ(o.removed, a.removed);
    EXPECT_TRUE(o.table.to_dense() == a.table.to_dense());
    EXPECT_EQ(o.table.provenance().parent, a.table.provenance().parent);
    const auto c = run(spec, t, "auto", 10);
    EXPECT_FALSE(a.table.n_rows() == c.table.n_rows() && a.table.to_dense() == c.table.to_dense());
  }
}

// --- class counts vs imbalanced-learn (tests/fixtures/make_classical_fixture.py) -------------

TEST(Cleaners, CountsMatchImbalancedLearn) {
  const std::string dir = test::source_path("tests/fixtures/classical/");
  std::ifstream f(dir + "expected_counts.json");
  ASSERT_TRUE(f.good()) << dir << "expected_counts.json";
  const nlohmann::json doc = nlohmann::json::parse(f);
  std::map<std::string, Table> tables;
  size_t exact = 0, ranged = 0;
  for (const auto& c : doc.at("cases")) {
    const std::string method = c.at("method");
    const SamplerInfo* info = find_sampler(method.substr(0, method.find(':')));
    ASSERT_NE(info, nullptr) << method;
    if (info->kind == SamplerKind::kOver) continue;  // test_oversamplers.cpp covers those
    const std::string input = c.at("input"), strategy = c.at("strategy");
    SCOPED_TRACE(input + " " + method + " strategy " + strategy);
    if (!tables.count(input)) tables[input] = read_table(dir + input);
    const Table& t = tables[input];
    if (c.contains("error")) {
      EXPECT_THROW(run(method, t, strategy), InputError) << c.at("error");
      continue;
    }
    const auto res = run(method, t, strategy, 1);
    const auto counts = res.table.class_counts();
    const auto& names = res.table.class_names();
    std::map<std::string, int64_t> ours;
    for (size_t k = 0; k < names.size(); ++k)
      if (counts[k] > 0) ours[names[k]] = counts[k];
    if (c.contains("counts")) {
      // Deterministic (or draw-independent) counts: exactly imbalanced-learn's.
      std::map<std::string, int64_t> theirs;
      for (const auto& [cls, n] : c.at("counts").items()) theirs[cls] = n.get<int64_t>();
      EXPECT_EQ(ours, theirs);
      ++exact;
    } else {
      // SMOTE first: counts depend on the random rows. imbalanced-learn's [min, max] over its
      // seeds, widened by 2 rows or a quarter of the range's width (one fixed seed of ours is
      // one more draw from the same distribution, not the same draw).
      for (const auto& [cls, r] : c.at("counts_range").items()) {
        const int64_t lo = r[0].get<int64_t>(), hi = r[1].get<int64_t>();
        const int64_t slack = std::max<int64_t>(2, (hi - lo) / 4);
        EXPECT_GE(ours[cls], lo - slack) << "class " << cls << " range " << lo << ".." << hi;
        EXPECT_LE(ours[cls], hi + slack) << "class " << cls << " range " << lo << ".." << hi;
      }
      ++ranged;
    }
  }
  EXPECT_GE(exact, 60u);
  EXPECT_GE(ranged, 8u);
}

}  // namespace
}  // namespace rareforge::classical
