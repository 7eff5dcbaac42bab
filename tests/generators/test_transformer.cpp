// The data transformer of the deep generators (generators/transformer.h): exact inverse, the
// mixture fit, missing values, JSON state, and the quantile map against scikit-learn
// (tests/fixtures/make_quantile_fixture.py -> tests/fixtures/generators/quantile.json).
#include <algorithm>
#include <cmath>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/rng.h"
#include "generators/transformer.h"
#include "tests/test_util.h"

namespace rareforge::generators {
namespace {

Context ctx_seed(uint64_t seed, int threads = 2) {
  Context c;
  c.seed = seed;
  c.threads = threads;
  c.quiet = true;
  return c;
}

// Mixed table: a 3-mode column, a skewed column, an integer column, a numeric column with
// missing values, two categoricals (one with missing values), then the target "y".
Table mixed_table(size_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<double> modes(n), skew(n), ints(n), holes(n);
  std::vector<int32_t> color(n), shape(n), y(n);
  for (size_t i = 0; i < n; ++i) {
    const double u = rng.uniform();
    modes[i] = u < 0.3 ? rng.normal(-10, 1) : u < 0.8 ? rng.normal(0, 0.5) : rng.normal(8, 2);
    skew[i] = std::exp(rng.normal(1.0, 0.8)) * 1000.0;
    ints[i] = static_cast<double>(rng.uniform_int(7));
    holes[i] = rng.uniform() < 0.2 ? std::nan("") : rng.normal(50, 5);
    color[i] = static_cast<int32_t>(rng.uniform_int(4));
    shape[i] = rng.uniform() < 0.1 ? -1 : static_cast<int32_t>(rng.uniform_int(3));
    y[i] = rng.uniform() < 0.25 ? 1 : 0;
  }
  Table t;
  t.add_column(Column::numeric("modes", modes));
  t.add_column(Column::numeric("skew", skew));
  t.add_column(Column::numeric("ints", ints));
  t.add_column(Column::numeric("holes", holes));
  t.add_column(Column::categorical("color", {"red", "green", "blue", "missing"}, color));
  t.add_column(Column::categorical("shape", {"round", "square", "flat"}, shape));
  t.add_column(Column::categorical("y", {"neg", "pos"}, y));
  t.set_target("y");
  return t;
}

// Numeric cells agree within 1e-9 relative to max(|x|, 1e-3 * column spread) (the offset is
// relative to the mode mean, so a value near zero in a column of large values carries the
// mode's absolute rounding); both missing counts as equal.
void expect_round_trip(const Table& a, const Table& b, const DataTransformer& tr,
                       const MatrixRM* encoded) {
  ASSERT_EQ(a.n_rows(), b.n_rows());
  ASSERT_EQ(a.n_cols(), b.n_cols());
  for (size_t j = 0; j < a.n_cols(); ++j) {
    const Column& ca = a.column(j);
    const Column& cb = b.column(j);
    ASSERT_EQ(ca.name(), cb.name());
    if (ca.is_categorical()) {
      EXPECT_EQ(ca.codes, cb.codes) << ca.name();
      continue;
    }
    double lo = INFINITY, hi = -INFINITY;
    for (double v : ca.num)
      if (!std::isnan(v)) lo = std::min(lo, v), hi = std::max(hi, v);
    const double floor = 1e-3 * (hi - lo);
    // Rows whose offset was clipped at +-0.99 are not exact by design.
    const Span* off = nullptr;
    for (const Span& s : tr.spans())
      if (s.column == static_cast<int64_t>(j) && s.kind == Span::Kind::kTanh) off = &s;
    size_t clipped = 0;
    for (size_t i = 0; i < ca.num.size(); ++i) {
      if (std::isnan(ca.num[i])) {
        EXPECT_TRUE(std::isnan(cb.num[i])) << ca.name() << " row " << i;
        continue;
      }
      if (off && encoded &&
          std::abs((*encoded)(static_cast<Eigen::Index>(i), off->start)) >= 0.99) {
        ++clipped;
        continue;
      }
      EXPECT_NEAR(cb.num[i], ca.num[i], 1e-9 * std::max(std::abs(ca.num[i]), floor))
          << ca.name() << " row " << i;
    }
    EXPECT_LE(clipped, ca.num.size() / 100) << ca.name() << ": too many clipped offsets";
  }
}

TEST(Transformer, SpansLayout) {
  const Table t = mixed_table(2000, 1);
  DataTransformer tr;
  tr.fit(t, {}, ctx_seed(3));
  ASSERT_TRUE(tr.fitted());
  EXPECT_EQ(tr.n_classes(), 2);
  EXPECT_EQ(tr.target_column(), 6);
  int64_t pos = 0;
  std::vector<int64_t> cols;
  for (const Span& s : tr.spans()) {
    EXPECT_EQ(s.start, pos);
    pos += s.width;
    cols.push_back(s.column);
  }
  EXPECT_EQ(pos, tr.output_dim());
  // modes: tanh + modes; skew: tanh + modes; ints: tanh + modes; holes: tanh + modes + flag;
  // color: 4; shape: 3 + missing.
  EXPECT_EQ(cols, (std::vector<int64_t>{0, 0, 1, 1, 2, 2, 3, 3, 3, 4, 5}));
  EXPECT_EQ(tr.spans()[8].kind, Span::Kind::kSoftmax);
  EXPECT_TRUE(tr.spans()[8].missing_flag);
  EXPECT_EQ(tr.spans()[8].width, 2);
  ASSERT_NE(tr.category_span(4), nullptr);
  EXPECT_EQ(tr.category_span(4)->width, 4);
  EXPECT_EQ(tr.category_span(5)->width, 4);
  EXPECT_EQ(tr.category_span(0), nullptr);
  EXPECT_EQ(tr.category_span(6), nullptr);    // the target is not encoded
  EXPECT_LE(tr.mixture(2).means.size(), 7u);  // 7 distinct values
}

TEST(Transformer, ModeSpecificRoundTripIsExact) {
  const Table t = mixed_table(3000, 2);
  DataTransformer tr;
  tr.fit(t, {}, ctx_seed(4));
  Rng rng(5);
  const MatrixRM x = tr.transform(t, rng);
  ASSERT_EQ(x.rows(), 3000);
  ASSERT_EQ(x.cols(), tr.output_dim());
  // Every softmax span is one-hot, every offset within +-0.99.
  for (const Span& s : tr.spans())
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
      if (s.kind == Span::Kind::kTanh) {
        EXPECT_LE(std::abs(x(i, s.start)), 0.99);
      } else {
        double sum = 0;
        for (int64_t k = 0; k < s.width; ++k) sum += x(i, s.start + k);
        EXPECT_EQ(sum, 1.0);
      }
    }
  const Table back = tr.inverse(x, t.labels());
  EXPECT_EQ(back.schema(), t.schema());
  EXPECT_EQ(back.labels(), t.labels());
  expect_round_trip(t, back, tr, &x);
}

TEST(Transformer, QuantileRoundTripIsExact) {
  const Table t = mixed_table(3000, 6);
  TransformerOptions opt;
  opt.numeric = TransformerOptions::Numeric::kQuantile;
  DataTransformer tr;
  tr.fit(t, opt, ctx_seed(7));
  for (const Span& s : tr.spans())
    if (!s.missing_flag && s.column <= 3) {
      EXPECT_EQ(s.kind, Span::Kind::kGaussian);
    }
  Rng rng(8);
  const MatrixRM x = tr.transform(t, rng);
  const Table back = tr.inverse(x, t.labels());
  expect_round_trip(t, back, tr, nullptr);
}

// Three well separated modes (weights 0.3 / 0.5 / 0.2, means -10 / 0 / 8, sds 1 / 0.5 / 2): the
// kept components that carry weight > 0.05 sit within 0.3 of a true mean, and the weight near
// each true mean is within 0.05 of the truth; over several seeds.
TEST(Transformer, MixtureRecoversThreeModes) {
  const double truth_mean[3] = {-10, 0, 8}, truth_w[3] = {0.3, 0.5, 0.2};
  for (uint64_t seed : {1, 2, 3, 4, 5}) {
    const Table t = mixed_table(3000, 100 + seed);
    DataTransformer tr;
    tr.fit(t, {}, ctx_seed(seed));
    const auto mix = tr.mixture(0);
    ASSERT_GE(mix.means.size(), 3u) << "seed " << seed;
    ASSERT_LE(mix.means.size(), 10u);
    double w_near[3] = {0, 0, 0}, total = 0;
    for (size_t k = 0; k < mix.means.size(); ++k) {
      EXPECT_GT(mix.weights[k], 0.005);
      total += mix.weights[k];
      size_t near = 0;
      for (size_t m = 1; m < 3; ++m)
        if (std::abs(mix.means[k] - truth_mean[m]) < std::abs(mix.means[k] - truth_mean[near]))
          near = m;
      w_near[near] += mix.weights[k];
      if (mix.weights[k] > 0.05) {
        EXPECT_NEAR(mix.means[k], truth_mean[near], 0.3) << "seed " << seed << " comp " << k;
      }
    }
    for (size_t m = 0; m < 3; ++m)
      EXPECT_NEAR(w_near[m] / total, truth_w[m], 0.05) << "seed " << seed << " mode " << m;
  }
}

TEST(Transformer, MissingValuesRestored) {
  const Table t = mixed_table(1000, 9);
  for (auto numeric :
       {TransformerOptions::Numeric::kModeSpecific, TransformerOptions::Numeric::kQuantile}) {
    TransformerOptions opt;
    opt.numeric = numeric;
    DataTransformer tr;
    tr.fit(t, opt, ctx_seed(10));
    Rng rng(11);
    const MatrixRM x = tr.transform(t, rng);
    const Table back = tr.inverse(x, t.labels());
    const Column& h = back.column("holes");
    const Column& s = back.column("shape");
    size_t n_missing = 0;
    for (size_t i = 0; i < t.n_rows(); ++i) {
      EXPECT_EQ(std::isnan(h.num[i]), std::isnan(t.column("holes").num[i])) << i;
      EXPECT_EQ(s.codes[i] < 0, t.column("shape").codes[i] < 0) << i;
      n_missing += std::isnan(h.num[i]);
    }
    EXPECT_GT(n_missing, 100u);
    // The "missing" slot of a categorical is its last one, and "color"'s own category named
    // "missing" stays an ordinary category.
    EXPECT_EQ(back.column("color").codes, t.column("color").codes);
  }
}

TEST(Transformer, JsonRoundTripGivesTheSameTransform) {
  const Table t = mixed_table(1500, 12);
  for (auto numeric :
       {TransformerOptions::Numeric::kModeSpecific, TransformerOptions::Numeric::kQuantile}) {
    TransformerOptions opt;
    opt.numeric = numeric;
    DataTransformer tr;
    tr.fit(t, opt, ctx_seed(13));
    const nlohmann::json j = tr.to_json();
    const DataTransformer back = DataTransformer::from_json(nlohmann::json::parse(j.dump()));
    EXPECT_EQ(back.to_json(), j);
    EXPECT_EQ(back.output_dim(), tr.output_dim());
    EXPECT_EQ(back.schema(), tr.schema());
    Rng r1(14), r2(14);
    const MatrixRM a = tr.transform(t, r1);
    const MatrixRM b = back.transform(t, r2);
    EXPECT_TRUE(a == b);
    const Table ia = tr.inverse(a, t.labels()), ib = back.inverse(a, t.labels());
    for (size_t c = 0; c < ia.n_cols(); ++c) {
      if (ia.column(c).is_numeric()) {
        for (size_t i = 0; i < ia.n_rows(); ++i) {
          const double u = ia.column(c).num[i], v = ib.column(c).num[i];
          EXPECT_TRUE(u == v || (std::isnan(u) && std::isnan(v)));
        }
      } else {
        EXPECT_EQ(ia.column(c).codes, ib.column(c).codes);
      }
    }
  }
  nlohmann::json bad = {{"format", "something else"}};
  EXPECT_THROW(DataTransformer::from_json(bad), InputError);
  EXPECT_THROW(DataTransformer::from_json(nlohmann::json::object()), InputError);
}

TEST(Transformer, DeterministicForSeedAndThreads) {
  const Table t = mixed_table(2000, 15);
  DataTransformer a, b, c;
  a.fit(t, {}, ctx_seed(16, 1));
  b.fit(t, {}, ctx_seed(16, 2));
  c.fit(t, {}, ctx_seed(17, 2));
  EXPECT_EQ(a.to_json(), b.to_json());
  Rng r1(3), r2(3);
  EXPECT_TRUE(a.transform(t, r1) == b.transform(t, r2));
  (void)c;
}

// Degenerate columns: constant, two distinct values, a single row; both encodings.
TEST(Transformer, DegenerateColumnsRoundTrip) {
  for (size_t n : {1, 2, 50}) {
    std::vector<double> constant(n, 7.25), two(n);
    std::vector<int32_t> y(n);
    for (size_t i = 0; i < n; ++i) {
      two[i] = i % 2 ? -3e8 : 1e-7;
      y[i] = static_cast<int32_t>(i % 2);
    }
    Table t;
    t.add_column(Column::numeric("constant", constant));
    t.add_column(Column::numeric("two", two));
    t.add_column(Column::categorical("y", {"a", "b"}, y));
    t.set_target("y");
    for (auto numeric :
         {TransformerOptions::Numeric::kModeSpecific, TransformerOptions::Numeric::kQuantile}) {
      TransformerOptions opt;
      opt.numeric = numeric;
      DataTransformer tr;
      tr.fit(t, opt, ctx_seed(1));
      if (numeric == TransformerOptions::Numeric::kModeSpecific) {
        EXPECT_EQ(tr.mixture(0).means.size(), 1u);
        EXPECT_LE(tr.mixture(1).means.size(), n < 2 ? 1u : 2u);
      }
      Rng rng(2);
      const MatrixRM x = tr.transform(t, rng);
      EXPECT_TRUE(x.allFinite());
      const Table back = tr.inverse(x, t.labels());
      for (size_t i = 0; i < n; ++i) {
        EXPECT_EQ(back.column(0).num[i], 7.25) << n << " " << i;
        EXPECT_NEAR(back.column(1).num[i], two[i], 1e-9 * 3e8 * 1e-3) << n << " " << i;
      }
    }
  }
}

TEST(Transformer, BadInputIsAnInputError) {
  const Table t = mixed_table(300, 18);
  DataTransformer tr;
  tr.fit(t, {}, ctx_seed(1));
  Table other = t;
  other.remove_column(0);
  Rng rng(1);
  EXPECT_THROW(tr.transform(other, rng), InputError);
  // A numeric column that had no missing values in training cannot take one now.
  Table holes = t;
  std::vector<double> v = t.column("modes").num;
  v[3] = std::nan("");
  holes.set_column(0, Column::numeric("modes", v));
  try {
    tr.transform(holes, rng);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("'modes'"), std::string::npos) << e.what();
  }
  Table no_target;
  no_target.add_column(Column::numeric("a", {1, 2, 3}));
  EXPECT_THROW(tr.fit(no_target, {}, ctx_seed(1)), InputError);
}

// Forward map of scikit-learn's QuantileTransformer(output_distribution="normal"): landmarks
// within 1e-12, transformed values within 1e-9, training rows and test rows outside the range.
TEST(Transformer, QuantileMatchesScikitLearn) {
  std::ifstream in(test::source_path("tests/fixtures/generators/quantile.json"));
  ASSERT_TRUE(in.good());
  const nlohmann::json fx = nlohmann::json::parse(in);
  auto make = [](const nlohmann::json& cols) {
    Table t;
    const size_t n = cols[0].size();
    for (size_t j = 0; j < cols.size(); ++j)
      t.add_column(Column::numeric("x" + std::to_string(j), cols[j].get<std::vector<double>>()));
    std::vector<int32_t> y(n);
    for (size_t i = 0; i < n; ++i) y[i] = static_cast<int32_t>(i % 2);
    t.add_column(Column::categorical("y", {"a", "b"}, y));
    t.set_target("y");
    return t;
  };
  const Table train = make(fx["train"]), test_rows = make(fx["test"]);
  for (const auto& cs : fx["cases"]) {
    TransformerOptions opt;
    opt.numeric = TransformerOptions::Numeric::kQuantile;
    opt.n_quantiles = cs["n_quantiles"].get<int>();
    DataTransformer tr;
    tr.fit(train, opt, ctx_seed(1));
    const nlohmann::json state = tr.to_json();
    for (size_t j = 0; j < 3; ++j) {
      const auto ours = state["columns"][j]["quantiles"].get<std::vector<double>>();
      const auto ref = cs["quantiles"][j].get<std::vector<double>>();
      ASSERT_EQ(ours.size(), ref.size());
      for (size_t k = 0; k < ref.size(); ++k)
        EXPECT_NEAR(ours[k], ref[k], 1e-12 * std::max(1.0, std::abs(ref[k]))) << j << " " << k;
    }
    for (const auto& [table, key] :
         {std::pair<const Table*, const char*>{&train, "train_out"}, {&test_rows, "test_out"}}) {
      Rng rng(1);
      const MatrixRM x = tr.transform(*table, rng);
      for (size_t j = 0; j < 3; ++j) {
        const auto ref = cs[key][j].get<std::vector<double>>();
        for (size_t i = 0; i < ref.size(); ++i)
          EXPECT_NEAR(x(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)), ref[i], 1e-9)
              << key << " n_quantiles " << opt.n_quantiles << " column " << j << " row " << i;
      }
    }
  }
}

}  // namespace
}  // namespace rareforge::generators
