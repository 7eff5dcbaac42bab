// `rareforge evaluate` and `rareforge classifiers` end to end: the outputs parse and state the
// primary metric, a frozen test file and a pre-augmented file work, bad input exits 2 with one
// line and leaves no output behind.
#include <algorithm>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/hdf5_util.h"
#include "core/rng.h"
#include "tests/test_util.h"

namespace rareforge::test {
namespace {

// n rows: x0 carries the signal (shifted by 3 for class "rare", every 4th row), x1 noise, a
// categorical column c, target y last. `offset` shifts the random stream.
std::string toy_csv(size_t n, uint64_t seed, const char* rare = "rare") {
  Rng rng(seed);
  std::string s = "x0,x1,c,y\n";
  for (size_t i = 0; i < n; ++i) {
    const bool r = i % 4 == 0;
    s += fmt::format("{},{},{},{}\n", rng.normal() + (r ? 3.0 : 0.0), rng.normal(),
                     i % 3 == 0 ? "a" : "b", r ? rare : "common");
  }
  return s;
}

std::string q(const std::string& path) { return "'" + path + "'"; }

TEST(CliClassifiers, ListsTheRegistry) {
  const auto r = run_cli("classifiers");
  ASSERT_EQ(r.status, 0) << r.errors;
  for (const char* name : {"xgboost", "random-forest", "logreg", "knn"})
    EXPECT_NE(r.output.find(std::string(name) + " "), std::string::npos) << name;
  EXPECT_NE(r.output.find("max_depth (int"), std::string::npos) << r.output;
}

TEST(CliEvaluate, WritesEachFormatWithTheMarkdownBeside) {
  TempDir d;
  const std::string train = d.file("train.csv");
  write_file(train, toy_csv(240, 1));
  for (const std::string ext : {".json", ".csv", ".h5"}) {
    SCOPED_TRACE(ext);
    const std::string out = d.file("res" + ext), md = d.file("res.md");
    const auto r = run_cli("evaluate --train " + q(train) +
                           " --method random-over --classifiers 'logreg,xgboost:n_estimators=10' "
                           "--seeds 3 --importance-repeats 2 --threads 1 --quiet --out " +
                           q(out));
    ASSERT_EQ(r.status, 0) << r.errors;
    ASSERT_TRUE(std::filesystem::exists(out));
    const std::string mdt = read_file(md);
    EXPECT_NE(mdt.find("Primary metric: **PR-AUC (average precision) of class 'rare'"),
              std::string::npos)
        << mdt;
    EXPECT_NE(mdt.find("| `logreg` |"), std::string::npos) << mdt;
    EXPECT_NE(mdt.find("| `xgboost:n_estimators=10` |"), std::string::npos) << mdt;
    EXPECT_NE(mdt.find("Spec: `logreg:alpha="), std::string::npos) << mdt;
    if (ext == ".json") {
      const auto j = nlohmann::json::parse(read_file(out));
      EXPECT_EQ(j["primary_metric"], "pr_auc");
      EXPECT_EQ(j["mode"], "split");
      EXPECT_EQ(j["minority_class"], "rare");
      EXPECT_EQ(j["seeds"].size(), 3u);
      EXPECT_EQ(j["seeds"][0]["seed"], 1);
      EXPECT_EQ(j["seeds"][0]["n_test"], 48);  // 20 % of 240
      EXPECT_EQ(j["features"], nlohmann::json({"x0", "x1", "c"}));
      ASSERT_EQ(j["classifiers"].size(), 2u);
      EXPECT_EQ(j["classifiers"][1]["name"], "xgboost");
      const auto& pr = j["classifiers"][0]["metrics"]["pr_auc"];
      EXPECT_EQ(pr["augmented"]["values"].size(), 3u);
      EXPECT_GT(pr["baseline"]["mean"].get<double>(), 0.6);  // x0 separates the classes well
      EXPECT_EQ(j["classifiers"][0]["permutation_importance"]["baseline"]["mean"].size(), 3u);
    } else if (ext == ".csv") {
      const std::string csv = read_file(out);
      EXPECT_NE(csv.find("logreg,\"logreg:"), std::string::npos) << csv.substr(0, 400);
      EXPECT_NE(csv.find(",pr_auc,1,PR-AUC (average precision) of class 'rare'"),
                std::string::npos);
    } else {
      auto f = h5::File::open(out);
      auto g = f.open_group("evaluation");
      EXPECT_EQ(g.attr_str("primary_metric"), "pr_auc");
      EXPECT_EQ(g.open_group("classifiers").links(),
                (std::vector<std::string>{"logreg", "xgboost"}));
    }
  }
}

TEST(CliEvaluate, FrozenTestFileAndPreAugmentedFile) {
  TempDir d;
  const std::string train = d.file("train.csv"), test = d.file("test.csv"), aug = d.file("aug.csv"),
                    out = d.file("res.json");
  write_file(train, toy_csv(200, 2));
  write_file(test, toy_csv(80, 3));
  auto r = run_cli("resample " + q(train) + " --method smote --quiet --out " + q(aug));
  ASSERT_EQ(r.status, 0) << r.errors;
  r = run_cli("evaluate --train " + q(train) + " --test " + q(test) + " --augmented " + q(aug) +
              " --classifiers logreg --seeds 2 --quiet --out " + q(out));
  ASSERT_EQ(r.status, 0) << r.errors;
  auto j = nlohmann::json::parse(read_file(out));
  EXPECT_EQ(j["mode"], "test-file");
  EXPECT_EQ(j["seeds"][0]["n_test"], 80);
  EXPECT_EQ(j["seeds"][0]["n_train"], 200);
  EXPECT_EQ(j["seeds"][0]["n_augmented"], 300);  // smote balanced 150 / 50 to 150 / 150
  EXPECT_EQ(j["seeds"][0]["n_synthetic"], 100);
  EXPECT_EQ(j["inputs"]["test"], test);
  // TSTR on the synthetic rows of the file: they are all "rare", so it is refused clearly.
  r = run_cli("evaluate --train " + q(train) + " --test " + q(test) + " --augmented " + q(aug) +
              " --tstr --classifiers logreg --seeds 2 --out " + q(d.file("t.json")));
  EXPECT_EQ(r.status, 2) << r.errors;
  EXPECT_NE(r.errors.find("two classes"), std::string::npos) << r.errors;
  // Without --quiet too, the error is the only line (no progress line before it).
  EXPECT_EQ(std::count(r.errors.begin(), r.errors.end(), '\n'), 1) << r.errors;
  EXPECT_FALSE(std::filesystem::exists(d.file("t.json")));
}

struct BadEval {
  const char* name;
  const char* flags;  // after --train TRAIN (and before --out)
  const char* must_mention;
};
void PrintTo(const BadEval& c, std::ostream* os) { *os << c.name; }

class CliEvaluateBad : public ::testing::TestWithParam<BadEval> {};

TEST_P(CliEvaluateBad, ExitsTwoWithOneLineAndNoOutput) {
  const BadEval& bc = GetParam();
  TempDir d;
  write_file(d.file("train.csv"), toy_csv(60, 4));
  write_file(d.file("other.csv"), toy_csv(40, 5, "unheard"));
  std::string flags = bc.flags;
  for (const std::string key : {"TRAIN", "OTHER"}) {
    const std::string path = q(d.file(key == "TRAIN" ? "train.csv" : "other.csv"));
    for (size_t p; (p = flags.find(key)) != std::string::npos;) flags.replace(p, key.size(), path);
  }
  const std::string out = std::string(bc.name) == "bad_extension" ? "res.txt" : "res.json";
  const auto r = run_cli("evaluate " + flags + " --quiet --out " + q(d.file(out)));
  EXPECT_EQ(r.status, 2) << r.errors;
  EXPECT_NE(r.errors.find(bc.must_mention), std::string::npos) << r.errors;
  EXPECT_EQ(std::count(r.errors.begin(), r.errors.end(), '\n'), 1) << r.errors;
  EXPECT_EQ(d.n_entries(), 2u) << "left files behind";
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CliEvaluateBad,
    ::testing::Values(
        BadEval{"no_method", "--train TRAIN", "--method"},
        BadEval{"unknown_method", "--train TRAIN --method nosuch", "unknown method 'nosuch'"},
        BadEval{"unknown_classifier", "--train TRAIN --method smote --classifiers nope", "nope"},
        BadEval{"bad_extension", "--train TRAIN --method smote", "res.txt"},
        BadEval{"augmented_without_test", "--train TRAIN --augmented TRAIN", "--test"},
        BadEval{"method_and_augmented", "--train TRAIN --method smote --augmented TRAIN",
                "excludes"},
        BadEval{"test_and_share", "--train TRAIN --test TRAIN --test-share 0.3 --method smote",
                "excludes"},
        BadEval{"zero_seeds", "--train TRAIN --method smote --seeds 0", "--seeds"},
        BadEval{"missing_train", "--train nowhere.csv --method smote", "nowhere.csv"},
        BadEval{"foreign_test_class", "--train TRAIN --test OTHER --method smote", "unheard"},
        BadEval{"tstr_classical", "--train TRAIN --method smote --tstr", "--tstr"},
        BadEval{"bad_primary", "--train TRAIN --method smote --primary auc", "--primary"},
        BadEval{"bad_share", "--train TRAIN --method smote --test-share 1.5", "--test-share"}),
    [](const ::testing::TestParamInfo<BadEval>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace rareforge::test
