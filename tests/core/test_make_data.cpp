// Synthetic rare-event data (core/make_data.h): exact class counts, determinism, label noise,
// drift, separation, the sensitive group, categorical columns, data specs and their errors.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <Eigen/QR>

#include "core/error.h"
#include "core/io.h"
#include "core/make_data.h"
#include "tests/test_util.h"

namespace rareforge {
namespace {

Context ctx_with_seed(uint64_t seed) {
  Context ctx;
  ctx.seed = seed;
  return ctx;
}

Table make(const std::string& spec, uint64_t seed = 7) {
  return make_rare_event_data(parse_data_spec(spec), ctx_with_seed(seed));
}

/// Mean of column `name` over rows [begin, end).
double mean_of(const Table& t, const std::string& name, size_t begin, size_t end) {
  const auto& v = t.column(name).num;
  double s = 0;
  for (size_t i = begin; i < end; ++i) s += v[i];
  return s / static_cast<double>(end - begin);
}

/// Message of the InputError `f` throws ("" and a test failure when it throws none).
template <typename F>
std::string input_error_of(F f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no InputError";
  return "";
}

TEST(MakeData, ClassCountsAreExactRoundedShares) {
  // rows 1000, share 0.0125 -> 12.5 rounds half away from zero to 13; normal gets 987.
  Table t = make("preset:baseline_easy,rows=1000,minority=0.0125");
  EXPECT_EQ(t.class_names(), (std::vector<std::string>{"normal", "rare"}));
  EXPECT_EQ(t.class_counts(), (std::vector<int64_t>{987, 13}));
  // Three classes: 1234 * 0.05 = 61.7 -> 62, 1234 * 0.01 = 12.34 -> 12, normal 1160.
  t = make("preset:baseline_easy,rows=1234,minority=0.05,0.01");
  EXPECT_EQ(t.class_names(), (std::vector<std::string>{"normal", "rare_1", "rare_2"}));
  EXPECT_EQ(t.class_counts(), (std::vector<int64_t>{1160, 62, 12}));
  // Label noise and the sensitive group never change the counts.
  t = make("preset:mixed_realistic,rows=5000,flip=0.3,sensitive=0.5,bias=1");
  EXPECT_EQ(t.class_counts(), (std::vector<int64_t>{4800, 150, 50}));
}

TEST(MakeData, EveryPresetGeneratesItsLayout) {
  for (const auto& p : preset_registry()) {
    SCOPED_TRACE(p.name);
    MakeDataOptions o = p.options;
    o.rows = 2000;
    const Table t = make_rare_event_data(o, ctx_with_seed(1));
    EXPECT_EQ(t.n_rows(), 2000u);
    EXPECT_EQ(t.target(), "label");
    EXPECT_EQ(t.target_index(), static_cast<int>(t.n_cols()) - 1);
    EXPECT_EQ(t.class_counts(), o.class_counts());
    const bool with_time = o.drift != 0 || o.time;
    const size_t expected_cols = (with_time ? 1 : 0) + o.informative + o.redundant + o.noise +
                                 o.categorical + (o.sensitive > 0 ? 1 : 0) + 1;
    EXPECT_EQ(t.n_cols(), expected_cols);
    EXPECT_EQ(t.index_of("time") >= 0, with_time);
    EXPECT_EQ(t.index_of("group") >= 0, o.sensitive > 0);
    EXPECT_GE(t.index_of("inf_1"), 0);
    for (const auto& c : t.columns())
      for (size_t i = 0; i < c.size(); ++i) ASSERT_FALSE(c.is_missing(i)) << c.name();
    // The preset name is the spec's, and the spec round-trips.
    EXPECT_EQ(parse_data_spec(o.spec()).spec(), o.spec());
    EXPECT_EQ(preset(p.name).spec().rfind("preset:" + p.name + ",", 0), 0u);
  }
}

TEST(MakeData, SameSeedSameBytesOtherSeedDiffers) {
  test::TempDir d;
  const MakeDataOptions o = parse_data_spec("preset:mixed_realistic,rows=3000");
  write_csv(make_rare_event_data(o, ctx_with_seed(11)), d.file("a.csv"));
  write_csv(make_rare_event_data(o, ctx_with_seed(11)), d.file("b.csv"));
  write_csv(make_rare_event_data(o, ctx_with_seed(12)), d.file("c.csv"));
  write_hdf5(make_rare_event_data(o, ctx_with_seed(11)), d.file("a.h5"));
  write_hdf5(make_rare_event_data(o, ctx_with_seed(11)), d.file("b.h5"));
  const std::string a = test::read_file(d.file("a.csv"));
  EXPECT_GT(a.size(), 100000u);
  EXPECT_EQ(a, test::read_file(d.file("b.csv")));
  EXPECT_NE(a, test::read_file(d.file("c.csv")));
  EXPECT_EQ(test::read_file(d.file("a.h5")), test::read_file(d.file("b.h5")));
}

TEST(MakeData, LabelNoiseMovesExactlyTheAskedShareOfEachClass) {
  // Same seed with and without label noise: the features of a row change only if the row was
  // made from another class's cluster; noise features and labels never change.
  const std::string base = "preset:noisy_overlap,rows=4000,minority=0.05,0.02";
  const Table clean = make(base + ",flip=0");
  const Table noisy = make(base + ",flip=0.1");
  ASSERT_EQ(clean.labels(), noisy.labels());
  const auto counts = clean.class_counts();  // 3720, 200, 80
  ASSERT_EQ(counts, (std::vector<int64_t>{3720, 200, 80}));
  std::vector<int64_t> moved(3, 0);
  for (size_t i = 0; i < clean.n_rows(); ++i) {
    bool differs = false;
    for (const char* col : {"inf_1", "inf_2", "inf_3", "inf_4", "inf_5"})
      differs |= clean.column(col).num[i] != noisy.column(col).num[i];
    for (const char* col : {"noise_1", "noise_5"})
      ASSERT_EQ(clean.column(col).num[i], noisy.column(col).num[i]) << col << " row " << i;
    if (differs) ++moved[clean.labels()[i]];
  }
  // round(0.1 * n_c): 372, 20, 8 -> 400 of 4000 rows, exactly the asked 10 %.
  EXPECT_EQ(moved, (std::vector<int64_t>{372, 20, 8}));
  // A share that does not divide evenly: round(0.033 * 3720) = 123 (122.76), round(6.6) = 7,
  // round(2.64) = 3; measured 133 / 4000 = 0.03325, within 1.5 rows of 0.033 * 4000.
  const Table noisy2 = make(base + ",flip=0.033");
  int64_t total = 0;
  for (size_t i = 0; i < clean.n_rows(); ++i) {
    bool differs = false;
    for (const char* col : {"inf_1", "inf_2", "inf_3", "inf_4", "inf_5"})
      differs |= clean.column(col).num[i] != noisy2.column(col).num[i];
    total += differs;
  }
  EXPECT_EQ(total, 123 + 7 + 3);
  EXPECT_LE(std::abs(static_cast<double>(total) - 0.033 * 4000), 1.5);
}

TEST(MakeData, DriftMovesInformativeMeansAlongTime) {
  // 20000 rows; means of the last and first time deciles differ by drift * (mean i of the last
  // decile - mean i of the first) / (n - 1) = drift * 18000 / 19999 = 0.90005 drift. Within a
  // decile the standard deviation of an informative feature is about sqrt(1 + separation^2) =
  // 1.41, so the standard error of the difference is 1.41 * sqrt(2 / 2000) = 0.045; tolerance
  // 0.2 (over 4 standard errors).
  const size_t n = 20000, decile = n / 10;
  for (double drift : {0.0, 2.0, -3.0}) {
    SCOPED_TRACE(drift);
    const Table t = make(fmt::format("preset:high_drift,rows={},drift={},time=true", n, drift));
    const auto& time = t.column("time").num;
    EXPECT_EQ(time.front(), 0.0);
    EXPECT_EQ(time.back(), static_cast<double>(n - 1));
    const double expected = drift * 18000.0 / 19999.0;
    for (int j = 1; j <= 5; ++j) {
      const std::string col = fmt::format("inf_{}", j);
      const double diff = mean_of(t, col, n - decile, n) - mean_of(t, col, 0, decile);
      EXPECT_NEAR(diff, expected, 0.2) << col;
    }
    for (int j = 1; j <= 3; ++j) {  // noise features do not drift (sd 1: se 0.032)
      const std::string col = fmt::format("noise_{}", j);
      EXPECT_NEAR(mean_of(t, col, n - decile, n) - mean_of(t, col, 0, decile), 0.0, 0.15) << col;
    }
  }
  // Without drift (and time=false) there is no time column.
  EXPECT_LT(make("preset:baseline_easy").index_of("time"), 0);
}

/// Balanced accuracy of a nearest-centroid classifier (Euclidean, numeric features) trained on
/// the first 70 % of the rows and tested on the rest.
double nearest_centroid_balanced_accuracy(const Table& t) {
  std::vector<const std::vector<double>*> cols;
  for (size_t j : t.feature_indices())
    if (t.column(j).is_numeric() && t.column(j).name() != "time") cols.push_back(&t.column(j).num);
  const auto& y = t.labels();
  const size_t n = t.n_rows(), n_train = n * 7 / 10, k = t.n_classes(), d = cols.size();
  std::vector<std::vector<double>> centroid(k, std::vector<double>(d, 0.0));
  std::vector<double> count(k, 0.0);
  for (size_t i = 0; i < n_train; ++i) {
    for (size_t j = 0; j < d; ++j) centroid[y[i]][j] += (*cols[j])[i];
    ++count[y[i]];
  }
  for (size_t c = 0; c < k; ++c)
    for (size_t j = 0; j < d; ++j) centroid[c][j] /= count[c];
  std::vector<double> hit(k, 0.0), seen(k, 0.0);
  for (size_t i = n_train; i < n; ++i) {
    size_t best = 0;
    double best_d = 1e300;
    for (size_t c = 0; c < k; ++c) {
      double dist = 0;
      for (size_t j = 0; j < d; ++j) dist += std::pow((*cols[j])[i] - centroid[c][j], 2);
      if (dist < best_d) best_d = dist, best = c;
    }
    ++seen[y[i]];
    hit[y[i]] += best == static_cast<size_t>(y[i]);
  }
  double acc = 0;
  for (size_t c = 0; c < k; ++c) acc += hit[c] / seen[c];
  return acc / static_cast<double>(k);
}

TEST(MakeData, SeparationMakesClassesEasierToTellApart) {
  for (uint64_t seed : {1, 2, 3}) {
    const double easy = nearest_centroid_balanced_accuracy(make("preset:baseline_easy", seed));
    const double hard = nearest_centroid_balanced_accuracy(make("preset:noisy_overlap", seed));
    std::printf(
        "seed %llu: nearest-centroid balanced accuracy baseline_easy %.3f, "
        "noisy_overlap %.3f\n",
        static_cast<unsigned long long>(seed), easy, hard);
    EXPECT_GT(easy, 0.8) << seed;
    EXPECT_GT(easy, hard + 0.1) << seed;
  }
  // With the geometry fixed (same seed), more separation is never worse by more than noise.
  double previous = 0;
  for (double sep : {0.0, 0.5, 1.0, 2.0}) {
    const double acc = nearest_centroid_balanced_accuracy(
        make(fmt::format("preset:baseline_easy,separation={}", sep)));
    if (sep == 0.0) {
      EXPECT_NEAR(acc, 0.5, 0.06);  // no separation: chance level
    }
    std::printf("seed 7: baseline_easy with separation %.1f: %.3f\n", sep, acc);
    EXPECT_GT(acc, previous - 0.01) << sep;
    previous = acc;
  }
  EXPECT_GT(previous, 0.9);
}

TEST(MakeData, SensitiveGroupShareAndBiasAreAsAsked) {
  // 10000 rows, 5 % rare (500), group B share 0.3 (3000 rows). No association: 3000 * 500 /
  // 10000 = 150 rare rows in B. bias 1: all 500; bias 0.5: 150 + 0.5 * 350 = 325; bias -1:
  // max(0, 3000 - 9500) = 0; bias -0.5: 75.
  const std::vector<std::pair<double, int64_t>> cases = {
      {0.0, 150}, {1.0, 500}, {0.5, 325}, {-1.0, 0}, {-0.5, 75}};
  for (const auto& [bias, rare_in_b] : cases) {
    SCOPED_TRACE(bias);
    const Table t =
        make(fmt::format("preset:baseline_easy,minority=0.05,sensitive=0.3,bias={}", bias));
    const auto& g = t.column("group");
    EXPECT_EQ(g.categories(), (std::vector<std::string>{"A", "B"}));
    int64_t in_b = 0, rare_b = 0;
    for (size_t i = 0; i < t.n_rows(); ++i) {
      in_b += g.codes[i] == 1;
      rare_b += g.codes[i] == 1 && t.labels()[i] != 0;
    }
    EXPECT_EQ(in_b, 3000);
    EXPECT_EQ(rare_b, rare_in_b);
  }
  // group_shift moves group B's informative features (bias 0, so both groups have the same
  // class mix): mean(B) - mean(A) ~ 1.5 (se ~ 0.035), noise features unmoved.
  const Table t = make("preset:baseline_easy,rows=20000,sensitive=0.3,group_shift=1.5");
  const auto& g = t.column("group").codes;
  for (const char* col : {"inf_1", "inf_3", "noise_1"}) {
    double sum[2] = {0, 0}, cnt[2] = {0, 0};
    for (size_t i = 0; i < t.n_rows(); ++i) sum[g[i]] += t.column(col).num[i], ++cnt[g[i]];
    const double diff = sum[1] / cnt[1] - sum[0] / cnt[0];
    EXPECT_NEAR(diff, std::string(col) == "noise_1" ? 0.0 : 1.5, 0.15) << col;
  }
}

TEST(MakeData, CategoricalColumnsAreNamedEqualFrequencyBins) {
  const Table t = make("preset:baseline_easy,rows=1003,categorical=2,levels=4");
  for (const char* col : {"cat_1", "cat_2"}) {
    const Column& c = t.column(col);
    ASSERT_TRUE(c.is_categorical());
    EXPECT_EQ(c.categories(), (std::vector<std::string>{"A", "B", "C", "D"}));
    std::vector<int> n(4, 0);
    for (int32_t code : c.codes) ++n[code];
    // rank r gets level floor(4 r / 1003): 251, 251, 251, 250 rows.
    EXPECT_EQ(n, (std::vector<int>{251, 251, 251, 250})) << col;
  }
  // Each bin is a range of inf_k + noise, so the level is associated with inf_k: the mean of
  // inf_1 rises from level A to level D.
  const Column& c = t.column("cat_1");
  double prev = -1e300;
  for (int32_t l = 0; l < 4; ++l) {
    double s = 0, k = 0;
    for (size_t i = 0; i < t.n_rows(); ++i)
      if (c.codes[i] == l) s += t.column("inf_1").num[i], ++k;
    EXPECT_GT(s / k, prev) << l;
    prev = s / k;
  }
}

TEST(MakeData, RedundantFeaturesAreLinearInTheInformativeOnes) {
  // red_1 = sum_a w_a inf_a exactly: solve for w on 5 rows, check the others.
  const Table t = make("preset:baseline_easy,rows=200,redundant=1,noise=0");
  Eigen::MatrixXd a(200, 5);
  Eigen::VectorXd b(200);
  for (size_t i = 0; i < 200; ++i) {
    for (int j = 0; j < 5; ++j) a(i, j) = t.column(fmt::format("inf_{}", j + 1)).num[i];
    b(i) = t.column("red_1").num[i];
  }
  const Eigen::VectorXd w = a.colPivHouseholderQr().solve(b);
  EXPECT_LT((a * w - b).cwiseAbs().maxCoeff(), 1e-9);
  for (int j = 0; j < 5; ++j) EXPECT_LE(std::abs(w(j)), 1.0);
}

TEST(MakeData, SpecParsing) {
  EXPECT_TRUE(is_data_spec("preset:noisy_overlap"));
  EXPECT_TRUE(is_data_spec("  preset:x,rows=5"));
  EXPECT_FALSE(is_data_spec("data/lending_club.csv"));
  const MakeDataOptions o =
      parse_data_spec("preset:noisy_overlap, rows=5000, minority=0.05,0.01, drift=1.5");
  EXPECT_EQ(o.preset, "noisy_overlap");
  EXPECT_EQ(o.rows, 5000);
  EXPECT_EQ(o.minority, (std::vector<double>{0.05, 0.01}));
  EXPECT_EQ(o.drift, 1.5);
  EXPECT_EQ(o.separation, preset("noisy_overlap").separation);  // untouched: the preset's
  EXPECT_EQ(o.flip, 0.05);
  EXPECT_EQ(o.n_classes(), 3);
  EXPECT_EQ(parse_data_spec(o.spec()).spec(), o.spec());
  EXPECT_EQ(parse_data_spec("preset:high_drift").spec(), preset("high_drift").spec());
  EXPECT_EQ(apply_params(preset("baseline_easy"), "flip=0.2,time=true").flip, 0.2);
}

TEST(MakeData, BadParametersAreInputErrorsNamingTheParameter) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"preset:baseline_easy,foo=1", "foo"},
      {"preset:baseline_easy,rows=5", "rows"},
      {"preset:baseline_easy,rows=abc", "rows"},
      {"preset:baseline_easy,minority=0.6,0.5", "minority"},
      {"preset:baseline_easy,minority=0", "minority"},
      {"preset:baseline_easy,minority=x", "minority"},
      {"preset:baseline_easy,rows=100,minority=0.001", "minority"},
      {"preset:baseline_easy,informative=2,clusters=3", "clusters"},
      {"preset:baseline_easy,levels=30", "levels"},
      {"preset:baseline_easy,flip=2", "flip"},
      {"preset:baseline_easy,bias=1.5", "bias"},
      {"preset:baseline_easy,rows=20,sensitive=0.01", "sensitive"},
      {"preset:baseline_easy,time=maybe", "time"},
      {"preset:baseline_easy,rows=10,20", "'20'"},
      {"preset:baseline_easy,rows=10,rows=20", "rows"},
      {"preset:no_such_preset", "no_such_preset"},
      {"preset:", "no preset"},
      {"baseline_easy", "preset:NAME"},
  };
  for (const auto& [spec, mention] : cases) {
    const std::string msg = input_error_of([&] { parse_data_spec(spec); });
    EXPECT_NE(msg.find(mention), std::string::npos) << spec << " -> " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
  // The preset list is in the unknown-preset message.
  EXPECT_NE(input_error_of([] { preset("x"); }).find("mixed_realistic"), std::string::npos);
  // Options built in code are checked too.
  MakeDataOptions o;
  o.informative = 0;
  EXPECT_NE(input_error_of([&] { make_rare_event_data(o, Context{}); }).find("informative"),
            std::string::npos);
}

}  // namespace
}  // namespace rareforge
