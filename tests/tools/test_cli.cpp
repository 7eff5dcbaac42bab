// End-to-end tests of the rareforge CLI: exit statuses, messages, and no output left behind.
#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/test_util.h"

namespace rareforge::test {
namespace {

TEST(Cli, VersionAndHelp) {
  auto r = run_cli("--version");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.output.find("rareforge 0."), std::string::npos) << r.output;
  r = run_cli("--help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.output.find("inspect"), std::string::npos);
  EXPECT_NE(r.output.find("convert"), std::string::npos);
}

TEST(Cli, UnknownSubcommandOrFlagIsExit2) {
  EXPECT_EQ(run_cli("frobnicate").status, 2);
  EXPECT_EQ(run_cli("inspect --no-such-flag x.csv").status, 2);
  EXPECT_EQ(run_cli("").status, 2);
}

TEST(Cli, InspectLendingClub) {
  auto r = run_cli("inspect '" + source_path("data/lending_club.csv") + "' --json");
  ASSERT_EQ(r.status, 0) << r.errors;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["rows"], 9857);
  EXPECT_EQ(j["n_columns"], 23);
  EXPECT_EQ(j["target"], "target");
  ASSERT_EQ(j["classes"].size(), 2u);
  // Class counts from the data set's README (good 9340 / bad 517).
  int64_t good = -1, bad = -1;
  for (const auto& c : j["classes"]) {
    if (c["class"] == "good") good = c["count"];
    if (c["class"] == "bad") bad = c["count"];
  }
  EXPECT_EQ(good, 9340);
  EXPECT_EQ(bad, 517);
  EXPECT_NEAR(j["imbalance_ratio"].get<double>(), 9340.0 / 517.0, 1e-12);
  // Column kinds: 17 numeric + 5 categorical features + categorical target.
  int numeric = 0, categorical = 0;
  for (const auto& c : j["columns"]) (c["kind"] == "numeric" ? numeric : categorical)++;
  EXPECT_EQ(numeric, 17);
  EXPECT_EQ(categorical, 6);
}

TEST(Cli, InspectStatisticsMatchHandComputation) {
  TempDir d;
  const std::string f = d.file("t.csv");
  // x: 1,2,3,4,10 -> mean 4, median 3, sample std sqrt(50/4)=3.5355..., min 1, max 10.
  write_file(f, "x,c,y\n1,a,p\n2,b,q\n3,a,p\n4,,p\n10,a,p\n1,a,p\n");
  auto r = run_cli("inspect '" + f + "' --json");
  ASSERT_EQ(r.status, 0) << r.errors;
  const auto j = nlohmann::json::parse(r.output);
  const auto& x = j["columns"][0];
  EXPECT_NEAR(x["mean"].get<double>(), 21.0 / 6.0, 1e-12);
  EXPECT_EQ(x["median"].get<double>(), 2.5);
  EXPECT_EQ(x["min"].get<double>(), 1.0);
  EXPECT_EQ(x["max"].get<double>(), 10.0);
  const auto& c = j["columns"][1];
  EXPECT_EQ(c["missing"], 1);
  EXPECT_EQ(c["top"][0]["value"], "a");
  EXPECT_EQ(c["top"][0]["count"], 4);
  EXPECT_EQ(j["duplicate_rows"], 1);  // the last row repeats the first
  EXPECT_NEAR(j["imbalance_ratio"].get<double>(), 5.0, 1e-12);
}

// Each bad input: exit 2, one line naming the file (or flag), and no output file.
struct BadCase {
  const char* name;
  const char* content;  // nullptr: the file does not exist
  const char* extra_flags;
  const char* must_mention;
  const char* command = "convert";  // or "resample" (-m smote)
};

// Print the case's name, not its bytes, in test listings.
void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class CliBadInput : public ::testing::TestWithParam<BadCase> {};

TEST_P(CliBadInput, ExitsTwoWithOneClearLineAndNoOutput) {
  const BadCase& bc = GetParam();
  TempDir d;
  const std::string in = d.file(std::string(bc.name) + ".csv");
  if (bc.content) write_file(in, bc.content);
  const std::string out = d.file("out.h5");
  // A table of one class is input that convert (and inspect, validate) read; resampling it is
  // what fails.
  auto r = std::string(bc.command) == "resample"
               ? run_cli("resample '" + in + "' -m smote --out '" + out + "' " + bc.extra_flags)
               : run_cli("convert '" + in + "' '" + out + "' " + bc.extra_flags);
  EXPECT_EQ(r.status, 2) << r.errors;
  EXPECT_FALSE(std::filesystem::exists(out));
  EXPECT_EQ(d.n_entries(), bc.content ? 1u : 0u) << "left files behind";
  EXPECT_NE(r.errors.find(bc.must_mention), std::string::npos) << r.errors;
  EXPECT_EQ(std::count(r.errors.begin(), r.errors.end(), '\n'), 1) << r.errors;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CliBadInput,
    ::testing::Values(BadCase{"missing", nullptr, "", "missing.csv"},
                      BadCase{"empty", "", "", "empty.csv"},
                      BadCase{"header_only", "a,b,y\n", "", "header_only.csv"},
                      BadCase{"ragged", "a,b,y\n1,2,p\n3,q\n", "", "line 3"},
                      BadCase{"unterminated", "a,b,y\n1,\"2,p\n3,4,q\n", "", "unterminated.csv"},
                      BadCase{"duplicate_names", "a,a,y\n1,2,p\n3,4,q\n", "", "'a'"},
                      BadCase{"unknown_target", "a,b,y\n1,2,p\n3,4,q\n", "--target zz", "zz"},
                      BadCase{"one_class", "a,b,y\n1,2,p\n3,4,p\n", "", "one class", "resample"},
                      BadCase{"numeric_text", "a,b,y\n1,2,p\n3,x,q\n", "--numeric b", "'b'"},
                      BadCase{"inf_value", "a,b,y\n1,inf,p\n3,4,q\n", "", "Inf"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return std::string(info.param.name); });

TEST(Cli, CorruptAndForeignHdf5AreExit2) {
  TempDir d;
  const std::string junk = d.file("junk.h5");
  write_file(junk, "this is not an HDF5 file at all");
  auto r = run_cli("inspect '" + junk + "'");
  EXPECT_EQ(r.status, 2) << r.errors;
  EXPECT_NE(r.errors.find("junk.h5"), std::string::npos) << r.errors;
  // A real HDF5 file cut in half.
  const std::string good = d.file("good.h5");
  ASSERT_EQ(run_cli("convert '" + source_path("data/hpc_jobs.csv") + "' '" + good + "' -q").status,
            0);
  std::string bytes = read_file(good);
  write_file(d.file("half.h5"), bytes.substr(0, bytes.size() / 2));
  r = run_cli("inspect '" + d.file("half.h5") + "'");
  EXPECT_EQ(r.status, 2) << r.errors;
  EXPECT_NE(r.errors.find("half.h5"), std::string::npos) << r.errors;
}

TEST(Cli, ConvertRoundTripsThroughHdf5) {
  TempDir d;
  const std::string h5 = d.file("t.h5"), csv = d.file("t.csv");
  ASSERT_EQ(run_cli("convert '" + source_path("data/hpc_jobs.csv") + "' '" + h5 + "' -q").status,
            0);
  ASSERT_EQ(run_cli("convert '" + h5 + "' '" + csv + "' -q").status, 0);
  EXPECT_EQ(read_file(csv), read_file(source_path("data/hpc_jobs.csv")));
}

TEST(Cli, ResampleBalancesWithProvenanceAndIsDeterministic) {
  TempDir d;
  const std::string a = d.file("a.h5"), b = d.file("b.h5"), c = d.file("c.csv");
  const std::string in = source_path("data/hpc_jobs.csv");
  ASSERT_EQ(
      run_cli("resample '" + in + "' --method smote:k=5 --seed 3 -q --out '" + a + "'").status, 0);
  ASSERT_EQ(
      run_cli("resample '" + in + "' --method smote:k=5 --seed 3 -q --out '" + b + "'").status, 0);
  EXPECT_EQ(read_file(a), read_file(b));
  auto r = run_cli("inspect '" + a + "' --json");
  ASSERT_EQ(r.status, 0) << r.errors;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["rows"], 4 * 2211);  // 'auto': every class grows to the majority (VF, 2211)
  for (const auto& cls : j["classes"]) EXPECT_EQ(cls["count"], 2211);
  // Only the synthetic rows, as CSV with provenance columns.
  ASSERT_EQ(run_cli("resample '" + in + "' -m smote --strategy L=300 --only-synthetic -q --out '" +
                    c + "'")
                .status,
            0);
  const std::string csv = read_file(c);
  EXPECT_NE(csv.find("__synthetic,__method,__parent,__neighbor,__gap"), std::string::npos);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1 + (300 - 259));
  EXPECT_NE(csv.find(",1,smote:k=5,"), std::string::npos);
}

TEST(Cli, ResampleBadInputIsExit2WithoutOutput) {
  TempDir d;
  const std::string out = d.file("out.csv");
  const std::string in = source_path("data/hpc_jobs.csv");
  auto r = run_cli("resample '" + in + "' --method smtoe --out '" + out + "'");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.errors.find("valid methods"), std::string::npos) << r.errors;
  r = run_cli("resample '" + in + "' --method smote:q=1 --out '" + out + "'");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.errors.find("valid parameters: k"), std::string::npos) << r.errors;
  r = run_cli("resample '" + in + "' --method smote --strategy nonsense --out '" + out + "'");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.errors.find("--strategy"), std::string::npos) << r.errors;
  // NaN in a feature: named column, suggestion to impute.
  const std::string nan_in = d.file("nan.csv");
  write_file(nan_in, "x,z,y\n1,1,a\n2,,a\n3,3,a\n4,4,b\n5,5,b\n6,6,a\n");
  r = run_cli("resample '" + nan_in + "' --method smote:k=1 --out '" + out + "'");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.errors.find("'z'"), std::string::npos) << r.errors;
  EXPECT_NE(r.errors.find("impute"), std::string::npos) << r.errors;
  EXPECT_FALSE(std::filesystem::exists(out));
  EXPECT_EQ(d.n_entries(), 1u);
}

}  // namespace
}  // namespace rareforge::test
