// `rareforge make-data`: presets, parameters, CSV and HDF5 output, determinism, bad input.
#include <algorithm>
#include <filesystem>

#include <gtest/gtest.h>

#include "core/io.h"
#include "core/make_data.h"
#include "tests/test_util.h"

namespace rareforge::test {
namespace {

TEST(CliMakeData, ListPrintsEveryPreset) {
  const auto r = run_cli("make-data --list");
  ASSERT_EQ(r.status, 0) << r.errors;
  for (const char* p :
       {"baseline_easy", "noisy_overlap", "high_drift", "imbalanced_sparse", "mixed_realistic"})
    EXPECT_NE(r.output.find(p), std::string::npos) << p;
  EXPECT_NE(r.output.find("minority"), std::string::npos);
  EXPECT_NE(run_cli("--help").output.find("make-data"), std::string::npos);
}

TEST(CliMakeData, WritesCsvAndHdf5WithExactCountsAndSameBytesForSameSeed) {
  TempDir d;
  const std::string args =
      " --preset mixed_realistic --rows 3000 --param minority=0.05,0.01 --seed 5 --quiet";
  ASSERT_EQ(run_cli("make-data --out '" + d.file("a.csv") + "'" + args).status, 0);
  ASSERT_EQ(run_cli("make-data --out '" + d.file("b.csv") + "'" + args).status, 0);
  ASSERT_EQ(run_cli("make-data --out '" + d.file("a.h5") + "'" + args).status, 0);
  ASSERT_EQ(run_cli("make-data --out '" + d.file("b.h5") + "'" + args).status, 0);
  const auto r = run_cli(
      "make-data --preset mixed_realistic --rows 3000 --param "
      "minority=0.05,0.01 --seed 6 --out '" +
      d.file("c.csv") + "'");
  ASSERT_EQ(r.status, 0) << r.errors;
  EXPECT_NE(r.errors.find("c.csv"), std::string::npos) << r.errors;  // the summary line
  EXPECT_EQ(read_file(d.file("a.csv")), read_file(d.file("b.csv")));
  EXPECT_EQ(read_file(d.file("a.h5")), read_file(d.file("b.h5")));
  EXPECT_NE(read_file(d.file("a.csv")), read_file(d.file("c.csv")));

  // The file holds what the library makes with the same options and seed.
  Context ctx;
  ctx.seed = 5;
  const Table expected = make_rare_event_data(
      parse_data_spec("preset:mixed_realistic,rows=3000,minority=0.05,0.01"), ctx);
  for (const char* f : {"a.csv", "a.h5"}) {
    SCOPED_TRACE(f);
    const Table t = read_table(d.file(f));
    EXPECT_EQ(t.target(), "label");
    EXPECT_EQ(t.target_index(), static_cast<int>(t.n_cols()) - 1);
    ASSERT_EQ(t.n_rows(), 3000u);
    ASSERT_EQ(t.n_cols(), expected.n_cols());
    // 3000 * 0.05 = 150, 3000 * 0.01 = 30, normal 2820 (by name: CSV lists classes in order of
    // first appearance).
    const auto counts = t.class_counts();
    for (size_t c = 0; c < t.n_classes(); ++c) {
      const std::string& name = t.class_names()[c];
      EXPECT_EQ(counts[c], name == "normal" ? 2820 : name == "rare_1" ? 150 : 30) << name;
    }
    for (size_t j = 0; j < t.n_cols(); ++j) {
      EXPECT_EQ(t.column(j).name(), expected.column(j).name());
      for (size_t i = 0; i < t.n_rows(); i += 97)
        EXPECT_EQ(t.column(j).cell_text(i), expected.column(j).cell_text(i))
            << t.column(j).name() << " row " << i;
    }
  }
}

TEST(CliMakeData, RowsFlagAndParamsApply) {
  TempDir d;
  const auto r = run_cli(
      "make-data -p imbalanced_sparse --rows 2000 --param clusters=2 --param "
      "categorical=1,levels=3 -q --out '" +
      d.file("t.csv") + "'");
  ASSERT_EQ(r.status, 0) << r.errors;
  const Table t = read_table(d.file("t.csv"));
  EXPECT_EQ(t.n_rows(), 2000u);
  EXPECT_EQ(t.column("cat_1").categories().size(), 3u);
  const auto counts = t.class_counts();
  EXPECT_EQ(*std::min_element(counts.begin(), counts.end()), 10);  // 2000 * 0.005
}

struct BadCase {
  const char* name;
  const char* flags;
  const char* must_mention;
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class CliMakeDataBad : public ::testing::TestWithParam<BadCase> {};

TEST_P(CliMakeDataBad, ExitsTwoWithOneLineNamingTheProblemAndNoOutput) {
  const BadCase& bc = GetParam();
  TempDir d;
  const std::string out = d.file("out.csv");
  const auto r = run_cli("make-data " + std::string(bc.flags) + " --out '" + out + "'");
  EXPECT_EQ(r.status, 2) << r.errors;
  EXPECT_FALSE(std::filesystem::exists(out));
  EXPECT_EQ(d.n_entries(), 0u) << "left files behind";
  EXPECT_NE(r.errors.find(bc.must_mention), std::string::npos) << r.errors;
  EXPECT_EQ(std::count(r.errors.begin(), r.errors.end(), '\n'), 1) << r.errors;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CliMakeDataBad,
    ::testing::Values(
        BadCase{"unknown_preset", "--preset nope", "nope"}, BadCase{"no_preset", "", "--preset"},
        BadCase{"unknown_param", "--preset baseline_easy --param colour=red", "colour"},
        BadCase{"rows_too_small", "--preset baseline_easy --rows 3", "rows"},
        BadCase{"negative_rows", "--preset baseline_easy --rows -4", "--rows"},
        BadCase{"rare_share_sum", "--preset baseline_easy --param minority=0.7,0.4", "minority"},
        BadCase{"flip_out_of_range", "--preset noisy_overlap --param flip=1.5", "flip"},
        BadCase{"too_many_clusters", "--preset baseline_easy --param informative=1,clusters=2",
                "clusters"},
        BadCase{"rows_twice", "--preset baseline_easy --rows 100 --param rows=200", "rows"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return std::string(info.param.name); });

TEST(CliMakeData, BadExtensionAndMissingOutAreExit2) {
  TempDir d;
  auto r = run_cli("make-data --preset baseline_easy --out '" + d.file("t.txt") + "'");
  EXPECT_EQ(r.status, 2) << r.errors;
  EXPECT_NE(r.errors.find("--out"), std::string::npos) << r.errors;
  EXPECT_EQ(d.n_entries(), 0u);
  r = run_cli("make-data --preset baseline_easy");
  EXPECT_EQ(r.status, 2) << r.errors;
  EXPECT_NE(r.errors.find("--out"), std::string::npos) << r.errors;
}

// data/README.md's table: rows, feature kinds and class counts of the bundled data sets.
TEST(DataReadme, BundledDataSetsHaveTheDocumentedCounts) {
  struct Expected {
    const char* file;
    size_t rows, numeric, categorical;
    std::vector<std::pair<std::string, int64_t>> classes;
  };
  const std::vector<Expected> cases = {
      {"data/lending_club.csv", 9857, 17, 5, {{"good", 9340}, {"bad", 517}}},
      {"data/hpc_jobs.csv", 4331, 5, 2, {{"VF", 2211}, {"F", 1347}, {"M", 514}, {"L", 259}}}};
  for (const auto& e : cases) {
    SCOPED_TRACE(e.file);
    const Table t = read_csv(source_path(e.file));
    EXPECT_EQ(t.n_rows(), e.rows);
    EXPECT_EQ(t.target(), "target");
    size_t numeric = 0, categorical = 0;
    for (size_t j : t.feature_indices()) (t.column(j).is_numeric() ? numeric : categorical)++;
    EXPECT_EQ(numeric, e.numeric);
    EXPECT_EQ(categorical, e.categorical);
    ASSERT_EQ(t.n_classes(), e.classes.size());
    const auto counts = t.class_counts();
    for (const auto& [name, count] : e.classes) {
      const auto& names = t.class_names();
      const auto it = std::find(names.begin(), names.end(), name);
      ASSERT_NE(it, names.end()) << name;
      EXPECT_EQ(counts[it - names.begin()], count) << name;
    }
  }
}

}  // namespace
}  // namespace rareforge::test
