// Preprocessing: spec parsing, statistics learned on train only (hand-computed), transform and
// encode of other splits, unseen categories, JSON round trip.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/preprocess.h"
#include "core/rng.h"
#include "core/table.h"

namespace rareforge {
namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();
using Spec = PreprocessSpec;

// Train: x = 1, 2, 3, 4, 100, NaN; color = red, blue, red, (missing), green, red with "purple"
// in the category list but in no row; target y.
Table train_table() {
  Table t;
  t.add_column(Column::numeric("x", {1, 2, 3, 4, 100, kNaN}));
  t.add_column(
      Column::categorical("color", {"red", "blue", "green", "purple"}, {0, 1, 0, -1, 2, 0}));
  t.add_column(Column::categorical("y", {"a", "b"}, {0, 0, 1, 0, 1, 0}));
  t.set_target("y");
  return t;
}

// Test: wildly different values and its own category order (as if read from another file).
Table test_table() {
  Table t;
  t.add_column(Column::numeric("x", {-50, kNaN, 5, 1000}));
  t.add_column(Column::categorical("color", {"purple", "green", "red", "blue"}, {0, -1, 1, 3}));
  t.add_column(Column::categorical("y", {"a", "b"}, {1, 0, 0, 1}));
  t.set_target("y");
  return t;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(PreprocessSpec, ParsesTheCompactForm) {
  const Spec s = Spec::parse("impute=median,cap=iqr:1.5,scale=standard,encode=onehot");
  EXPECT_EQ(s.impute, Spec::Impute::kMedian);
  EXPECT_EQ(s.cap, Spec::Cap::kIqr);
  EXPECT_DOUBLE_EQ(s.cap_k, 1.5);
  EXPECT_EQ(s.scale, Spec::Scale::kStandard);
  EXPECT_EQ(s.encode, Spec::Encode::kOneHot);

  const Spec p = Spec::parse("cap=percentile:lo=5,hi=95,scale=robust");
  EXPECT_EQ(p.cap, Spec::Cap::kPercentile);
  EXPECT_DOUBLE_EQ(p.cap_lo, 5);
  EXPECT_DOUBLE_EQ(p.cap_hi, 95);
  EXPECT_EQ(p.scale, Spec::Scale::kRobust);
  EXPECT_EQ(Spec::parse("cap=percentile:2:98").cap_hi, 98);
  EXPECT_EQ(Spec::parse("cap=zscore:z=2.5").cap_z, 2.5);
  const Spec c = Spec::parse("impute=constant:-1,impute-cat=missing:NA,encode=ordinal");
  EXPECT_EQ(c.impute, Spec::Impute::kConstant);
  EXPECT_EQ(c.impute_value, -1);
  EXPECT_EQ(c.impute_cat, Spec::ImputeCat::kMissing);
  EXPECT_EQ(c.missing_category, "NA");
  EXPECT_EQ(c.encode, Spec::Encode::kOrdinal);

  // Defaults, and the canonical text parses back to the same spec.
  const Spec d = Spec::parse("");
  EXPECT_EQ(d.str(), "impute=median,impute-cat=mode,cap=none,scale=none,encode=onehot");
  for (const Spec& x : {s, p, c, d}) EXPECT_EQ(Spec::parse(x.str()).str(), x.str());
}

TEST(PreprocessSpec, ErrorsNameTheFlagAndTheProblem) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"impute=medain", "unknown impute 'medain'"},
      {"scale=zscore", "unknown scale"},
      {"colour=red", "unknown key 'colour'"},
      {"impute=mean,impute=median", "given twice"},
      {"cap=iqr:-1", "k must be >= 0"},
      {"cap=percentile:lo=90,hi=10", "0 <= lo < hi <= 100"},
      {"cap=zscore:q=3", "no parameter 'q'"},
      {"cap=iqr:1:2", "takes 1 parameter"},
      {"cap=zscore:z=abc", "not a finite number"},
      {"scale", "not KEY=VALUE"},
      {"encode=onehot:3", "takes no parameter"},
  };
  for (const auto& [text, want] : cases) {
    const std::string e = error_of([&] { Spec::parse(text); });
    EXPECT_NE(e.find("--preprocess"), std::string::npos) << text << ": " << e;
    EXPECT_NE(e.find(want), std::string::npos) << text << ": " << e;
  }
}

TEST(Preprocessor, LearnsStatisticsFromTrainOnly) {
  Preprocessor pp(Spec::parse("impute=median,cap=iqr:1.5,scale=standard"));
  const Table train = train_table();
  pp.fit(train);

  // By hand, on train only. x non-missing sorted: 1 2 3 4 100 -> median 3.
  // Imputed: 1 2 3 3 4 100 (n = 6). numpy linear percentiles: Q1 at position 5*0.25 = 1.25 ->
  // 2 + 0.25*(3-2) = 2.25; Q3 at 3.75 -> 3 + 0.75*(4-3) = 3.75; IQR 1.5 -> bounds
  // [2.25 - 2.25, 3.75 + 2.25] = [0, 6]. Clipped: 1 2 3 3 4 6 -> mean 19/6,
  // sd = sqrt(((13/6)^2 + (7/6)^2 + 2 (1/6)^2 + (5/6)^2 + (17/6)^2) / 6) = sqrt(534/216).
  const FittedColumn& x = pp.column("x");
  EXPECT_DOUBLE_EQ(x.fill, 3.0);
  EXPECT_DOUBLE_EQ(x.lo, 0.0);
  EXPECT_DOUBLE_EQ(x.hi, 6.0);
  EXPECT_DOUBLE_EQ(x.center, 19.0 / 6.0);
  EXPECT_NEAR(x.scale, std::sqrt(534.0 / 216.0), 1e-14);

  // color: seen in train red, blue, green (purple is in the list but in no train row); mode red.
  const FittedColumn& color = pp.column("color");
  EXPECT_EQ(color.categories, (std::vector<std::string>{"red", "blue", "green"}));
  EXPECT_EQ(color.fill_category, "red");
  EXPECT_EQ(pp.feature_names(),
            (std::vector<std::string>{"x", "color=red", "color=blue", "color=green"}));

  // Transforming the test split uses those numbers and learns nothing.
  const std::string before = nlohmann::json(pp).dump();
  const Table out = pp.transform(test_table());
  EXPECT_EQ(nlohmann::json(pp).dump(), before);
  const double m = 19.0 / 6.0, sd = x.scale;
  const auto& v = out.column("x").num;
  ASSERT_EQ(v.size(), 4u);
  EXPECT_DOUBLE_EQ(v[0], (0.0 - m) / sd);  // -50 capped at 0
  EXPECT_DOUBLE_EQ(v[1], (3.0 - m) / sd);  // missing -> train median 3
  EXPECT_DOUBLE_EQ(v[2], (5.0 - m) / sd);
  EXPECT_DOUBLE_EQ(v[3], (6.0 - m) / sd);  // 1000 capped at 6
  // Target untouched; column order of the training table.
  EXPECT_EQ(out.target(), "y");
  EXPECT_EQ(out.labels(), (std::vector<int32_t>{1, 0, 0, 1}));
  EXPECT_EQ(out.column(0).name(), "x");

  // Fitting on the test split instead gives other numbers: the statistics do come from the data.
  Preprocessor other(Spec::parse("impute=median,cap=iqr:1.5,scale=standard"));
  other.fit(test_table());
  EXPECT_NE(other.column("x").fill, 3.0);
}

TEST(Preprocessor, EncodeMatchesFittedLayoutAndHandlesUnseenCategories) {
  Preprocessor pp(Spec::parse("impute=median,impute-cat=mode"));
  pp.fit(train_table());
  std::vector<std::string> names;
  const MatrixRM m = pp.transform_encode(test_table());
  ASSERT_EQ(m.rows(), 4);
  ASSERT_EQ(m.cols(), 4);  // x, color=red, color=blue, color=green
  // Row 0: purple (unseen in train) -> all zeros. Row 1: missing -> mode red. Row 2: green.
  // Row 3: blue. Test codes are in the test file's own order; matching is by name.
  const double want[4][4] = {{-50, 0, 0, 0}, {3, 1, 0, 0}, {5, 0, 0, 1}, {1000, 0, 1, 0}};
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) EXPECT_EQ(m(i, j), want[i][j]) << i << "," << j;

  Preprocessor ord(Spec::parse("impute=median,impute-cat=none,encode=ordinal"));
  ord.fit(train_table());
  const MatrixRM o = ord.transform_encode(test_table());
  ASSERT_EQ(o.cols(), 2);
  EXPECT_EQ(ord.feature_names(), (std::vector<std::string>{"x", "color"}));
  EXPECT_EQ(o(0, 1), -1.0);          // unseen
  EXPECT_TRUE(std::isnan(o(1, 1)));  // missing, not imputed
  EXPECT_EQ(o(2, 1), 2.0);           // green is fitted index 2
  EXPECT_EQ(o(3, 1), 1.0);           // blue
}

TEST(Preprocessor, PercentileCapMatchesNumpyLinearInterpolation) {
  // Sorted 0 1 2 4 8 16 32 64 128 256 (n = 10). P10: position 9*0.10 = 0.9 -> 0 + 0.9*(1-0) = 0.9.
  // P90: position 9*0.90 = 8.1 -> 128 + 0.1*(256-128) = 140.8.
  Table t;
  t.add_column(Column::numeric("v", {256, 0, 64, 2, 8, 1, 128, 4, 32, 16}));
  Preprocessor pp(Spec::parse("cap=percentile:lo=10,hi=90"));
  pp.fit(t);
  EXPECT_NEAR(pp.column("v").lo, 0.9, 1e-12);
  EXPECT_NEAR(pp.column("v").hi, 140.8, 1e-12);
  const Table out = pp.transform(t);
  EXPECT_NEAR(out.column("v").num[0], 140.8, 1e-12);
  EXPECT_NEAR(out.column("v").num[1], 0.9, 1e-12);
  EXPECT_EQ(out.column("v").num[2], 64);

  // Robust scaling on the same (clipped) values: Q1 at 2.25 -> 2 + 0.25*2 = 2.5,
  // median at 4.5 -> 8 + 0.5*8 = 12, Q3 at 6.75 -> 32 + 0.75*32 = 56.
  Preprocessor rb(Spec::parse("scale=robust"));
  rb.fit(t);
  EXPECT_DOUBLE_EQ(rb.column("v").center, 12.0);
  EXPECT_DOUBLE_EQ(rb.column("v").scale, 56.0 - 2.5);

  // z-score cap: mean 51.1, population sd; min-max scaling on the clipped values.
  Preprocessor zs(Spec::parse("cap=zscore:z=1,scale=minmax"));
  zs.fit(t);
  double mean = 0, ss = 0;
  for (double x : t.column(0).num) mean += x / 10;
  for (double x : t.column(0).num) ss += (x - mean) * (x - mean);
  const double sd = std::sqrt(ss / 10);
  EXPECT_NEAR(mean, 51.1, 1e-12);
  EXPECT_NEAR(zs.column("v").lo, mean - sd, 1e-12);
  EXPECT_NEAR(zs.column("v").hi, mean + sd, 1e-12);
  EXPECT_DOUBLE_EQ(zs.column("v").center, 0.0);  // min 0 is above mean - sd
  EXPECT_NEAR(zs.column("v").scale, mean + sd, 1e-12);
}

TEST(Preprocessor, PercentilesAgreeWithASortedReference) {
  // Random values with many ties; reference: sort, then numpy's linear rule.
  Rng rng(17);
  std::vector<double> v(1001);
  for (double& x : v) x = std::floor(rng.normal() * 20) / 4;
  Table t;
  t.add_column(Column::numeric("v", v));
  std::vector<double> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  auto ref = [&](double p) {
    const double pos = (sorted.size() - 1) * (p / 100.0);
    const auto i = static_cast<size_t>(std::floor(pos));
    if (i + 1 >= sorted.size()) return sorted.back();
    return sorted[i] + (pos - std::floor(pos)) * (sorted[i + 1] - sorted[i]);
  };
  for (auto [lo, hi] : {std::pair{0.0, 100.0}, {1.0, 99.0}, {2.5, 97.5}, {33.3, 66.7}}) {
    Preprocessor pp(Spec::parse(fmt::format("cap=percentile:lo={}:hi={}", lo, hi)));
    pp.fit(t);
    EXPECT_NEAR(pp.column("v").lo, ref(lo), 1e-12) << lo;
    EXPECT_NEAR(pp.column("v").hi, ref(hi), 1e-12) << hi;
  }
}

TEST(Preprocessor, MeanConstantAndMissingCategory) {
  Preprocessor mean(Spec::parse("impute=mean,impute-cat=missing"));
  mean.fit(train_table());
  EXPECT_DOUBLE_EQ(mean.column("x").fill, 22.0);  // (1+2+3+4+100)/5
  // The "missing" category joins the layout after the categories seen in train.
  EXPECT_EQ(mean.column("color").categories,
            (std::vector<std::string>{"red", "blue", "green", "missing"}));
  const Table out = mean.transform(test_table());
  const Column& color = out.column("color");
  EXPECT_EQ(color.cell_text(1), "missing");
  EXPECT_EQ(color.cell_text(0), "purple");  // unseen categories are kept by transform
  EXPECT_EQ(out.column("x").num[1], 22.0);

  Preprocessor constant(Spec::parse("impute=constant:-7"));
  constant.fit(train_table());
  EXPECT_EQ(constant.transform(test_table()).column("x").num[1], -7.0);
}

TEST(Preprocessor, DropRemovesIncompleteRowsInFitAndTransform) {
  Preprocessor pp(Spec::parse("impute=drop,scale=minmax"));
  pp.fit(train_table());
  // Complete train rows: 0, 1, 2, 4 (row 3 misses color, row 5 misses x): x = 1 2 3 100.
  EXPECT_TRUE(std::isnan(pp.column("x").fill));
  EXPECT_DOUBLE_EQ(pp.column("x").center, 1.0);
  EXPECT_DOUBLE_EQ(pp.column("x").scale, 99.0);
  EXPECT_EQ(pp.column("color").categories, (std::vector<std::string>{"red", "blue", "green"}));
  std::vector<size_t> kept;
  const Table out = pp.transform(test_table(), &kept);
  EXPECT_EQ(kept, (std::vector<size_t>{0, 2, 3}));
  EXPECT_EQ(out.n_rows(), 3u);
  EXPECT_EQ(out.labels(), (std::vector<int32_t>{1, 0, 1}));
  EXPECT_DOUBLE_EQ(out.column("x").num[1], 4.0 / 99.0);
}

TEST(Preprocessor, InputErrors) {
  Preprocessor pp;
  EXPECT_THROW(pp.transform(test_table()), Error);  // before fit
  EXPECT_THROW(pp.encode(test_table()), Error);

  Table allnan = train_table();
  allnan.add_column(Column::numeric("empty", std::vector<double>(6, kNaN)));
  std::string e = error_of([&] { pp.fit(allnan); });
  EXPECT_NE(e.find("column 'empty' has no value"), std::string::npos) << e;
  EXPECT_FALSE(pp.fitted());

  Table inf = train_table();
  inf.column(0).num[2] = std::numeric_limits<double>::infinity();
  e = error_of([&] { pp.fit(inf); });
  EXPECT_NE(e.find("column 'x' has an infinite value in row 3"), std::string::npos) << e;

  pp.fit(train_table());
  Table wrong_kind;
  wrong_kind.add_column(Column::categorical("x", {"a"}, {0}));
  wrong_kind.add_column(Column::categorical("color", {"red"}, {0}));
  e = error_of([&] { pp.transform(wrong_kind); });
  EXPECT_NE(e.find("column 'x' is numeric in the training table but categorical"),
            std::string::npos)
      << e;
  Table missing_col;
  missing_col.add_column(Column::numeric("x", {1}));
  e = error_of([&] { pp.transform(missing_col); });
  EXPECT_NE(e.find("column 'color' of the training table is missing"), std::string::npos) << e;
  Table extra = test_table();
  extra.add_column(Column::numeric("z", {1, 2, 3, 4}));
  e = error_of([&] { pp.transform(extra); });
  EXPECT_NE(e.find("column 'z' was not in the training table"), std::string::npos) << e;

  Table none;
  none.add_column(Column::numeric("x", {}));
  EXPECT_THROW(pp.fit(none), InputError);
}

TEST(Preprocessor, JsonRoundTripReproducesOutputExactly) {
  Preprocessor pp(Spec::parse("impute=mean,cap=zscore:2,scale=standard,impute-cat=missing"));
  pp.fit(train_table());
  const std::string text = nlohmann::json(pp).dump();
  Preprocessor back;
  nlohmann::json::parse(text).get_to(back);
  EXPECT_TRUE(back.fitted());
  EXPECT_EQ(back.spec().str(), pp.spec().str());
  EXPECT_EQ(back.feature_names(), pp.feature_names());
  const MatrixRM a = pp.transform_encode(test_table());
  const MatrixRM b = back.transform_encode(test_table());
  ASSERT_EQ(a.rows(), b.rows());
  ASSERT_EQ(a.cols(), b.cols());
  for (Eigen::Index i = 0; i < a.size(); ++i) EXPECT_EQ(a.data()[i], b.data()[i]);  // bit for bit

  // Infinite cap bounds (cap=none) survive too, and a foreign JSON is an InputError.
  Preprocessor none;
  none.fit(train_table());
  Preprocessor none_back;
  nlohmann::json::parse(nlohmann::json(none).dump()).get_to(none_back);
  EXPECT_TRUE(std::isinf(none_back.column("x").hi));
  EXPECT_THROW(nlohmann::json::parse(R"({"format":"other"})").get_to(none_back), InputError);
}

TEST(Preprocessor, ThreadsDoNotChangeResults) {
  Table t;
  std::vector<double> a(10000), b(10000);
  std::vector<int32_t> y(10000);
  for (size_t i = 0; i < a.size(); ++i) {
    a[i] = (i % 7 == 0) ? kNaN : std::sin(static_cast<double>(i)) * 100;
    b[i] = static_cast<double>((i * 7919) % 1000);
    y[i] = i % 10 == 0;
  }
  t.add_column(Column::numeric("a", a));
  t.add_column(Column::numeric("b", b));
  t.add_column(Column::categorical("y", {"n", "p"}, y));
  t.set_target("y");
  const Spec s = Spec::parse("impute=median,cap=iqr,scale=robust");
  Preprocessor one(s, 1), four(s, 4);
  one.fit(t);
  four.fit(t);
  EXPECT_EQ(nlohmann::json(one).dump(), nlohmann::json(four).dump());
  const MatrixRM m1 = one.transform_encode(t), m4 = four.transform_encode(t);
  EXPECT_TRUE(m1 == m4);
}

}  // namespace
}  // namespace rareforge
