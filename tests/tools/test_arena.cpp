// The arena (tools/arena.h): leaderboard numbers against the run log, resume after a kill,
// shards merged equal to one run, failing cells recorded, the bundle.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <random>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io.h"
#include "tests/test_util.h"
#include "tools/arena.h"
#include "tools/bundle.h"

namespace fs = std::filesystem;

namespace rareforge::test {
namespace {

/// Two Gaussian classes in 3 numeric features plus one categorical column; 260 / 40 rows.
std::string write_toy(const TempDir& d) {
  std::mt19937_64 g(7);
  std::normal_distribution<double> n(0, 1);
  std::string csv = "a,b,c,color,label\n";
  for (int i = 0; i < 300; ++i) {
    const bool rare = i % 15 == 0 || i % 17 == 0;
    const double shift = rare ? 1.2 : 0.0;
    csv +=
        fmt::format("{:.6f},{:.6f},{:.6f},{},{}\n", n(g) + shift, n(g) - shift, n(g),
                    i % 3 == 0 ? "red" : (i % 3 == 1 ? "green" : "blue"), rare ? "rare" : "common");
  }
  write_file(d.file("toy.csv"), csv);
  return d.file("toy.csv");
}

arena::ArenaConfig toy_config(const std::string& path) {
  arena::ArenaConfig c =
      arena::ArenaConfig::from_json({{"datasets", {path}},
                                     {"methods", {"none", "random-over", "smote:k=3"}},
                                     {"classifiers", {"logreg"}},
                                     {"seeds", 2},
                                     {"validation", false}},
                                    "test");
  return c;
}

Context quiet() {
  Context ctx;
  ctx.quiet = true;
  ctx.threads = 1;
  return ctx;
}

/// A CSV output of the arena (no class column).
Table read_sheet(const std::string& path) {
  CsvOptions o;
  o.target = "-";
  return read_csv(path, o);
}

/// The leaderboard without its timing columns (which differ from run to run).
Table leaderboard_without_times(const std::string& dir) {
  Table t = read_sheet((fs::path(dir) / "leaderboard.csv").string());
  for (size_t j = t.n_cols(); j-- > 0;)
    if (t.column(j).name().find("seconds") != std::string::npos) t.remove_column(j);
  return t;
}

void expect_same_leaderboards(const std::string& a, const std::string& b) {
  const Table x = leaderboard_without_times(a), y = leaderboard_without_times(b);
  ASSERT_EQ(x.n_rows(), y.n_rows());
  ASSERT_EQ(x.n_cols(), y.n_cols());
  for (size_t j = 0; j < x.n_cols(); ++j)
    for (size_t i = 0; i < x.n_rows(); ++i)
      EXPECT_EQ(x.column(j).cell_text(i), y.column(j).cell_text(i))
          << x.column(j).name() << " row " << i;
}

TEST(Arena, LeaderboardAgreesWithTheRunLog) {
  TempDir d;
  const auto cfg = toy_config(write_toy(d));
  arena::RunOptions ro;
  ro.out_dir = d.file("out");
  ro.export_winner = false;
  EXPECT_EQ(arena::run_arena(cfg, ro, quiet()), 0);
  EXPECT_EQ(arena::enumerate_cells(cfg).size(), 6u);

  const Table log = read_sheet(d.file("out/run_log.csv"));
  ASSERT_EQ(log.n_rows(), 6u);  // 3 methods x 2 seeds x 1 classifier
  const auto& method = log.column("method");
  const auto& seed = log.column("seed");
  const auto& aug = log.column("augmented_pr_auc");
  const auto& base = log.column("baseline_pr_auc");
  // The baseline arm does not depend on the method: equal across methods for each seed.
  std::map<double, double> base_by_seed;
  std::map<std::string, std::vector<double>> aug_by_method;
  std::map<std::string, std::vector<double>> diff_by_method;
  for (size_t i = 0; i < log.n_rows(); ++i) {
    const auto it = base_by_seed.emplace(seed.num[i], base.num[i]).first;
    EXPECT_EQ(it->second, base.num[i]) << "seed " << seed.num[i];
    aug_by_method[method.cell_text(i)].push_back(aug.num[i]);
    diff_by_method[method.cell_text(i)].push_back(aug.num[i] - base.num[i]);
    EXPECT_EQ(log.column("status").cell_text(i), "ok");
  }
  // "none" trains the augmented arm on the same rows: the same score.
  for (size_t i = 0; i < log.n_rows(); ++i)
    if (method.cell_text(i) == "none") {
      EXPECT_EQ(aug.num[i], base.num[i]);
    }

  const Table lb = read_sheet(d.file("out/leaderboard.csv"));
  ASSERT_EQ(lb.n_rows(), 3u);
  std::vector<std::pair<double, std::string>> by_mean;
  for (size_t i = 0; i < lb.n_rows(); ++i) {
    const std::string m = lb.column("method").cell_text(i);
    const auto& v = aug_by_method[m];
    ASSERT_EQ(v.size(), 2u);
    const double mean = (v[0] + v[1]) / 2;
    const double sd = std::abs(v[0] - v[1]) / std::sqrt(2.0);  // ddof 1 with n = 2
    EXPECT_NEAR(lb.column("pr_auc_mean").num[i], mean, 1e-12) << m;
    EXPECT_NEAR(lb.column("pr_auc_std").num[i], sd, 1e-12) << m;
    if (m != "none") {
      const auto& dv = diff_by_method[m];
      EXPECT_NEAR(lb.column("difference_mean").num[i], (dv[0] + dv[1]) / 2, 1e-12) << m;
    }
    by_mean.emplace_back(-mean, m);
  }
  // Rank 1 is the best mean (no ties here).
  std::sort(by_mean.begin(), by_mean.end());
  for (size_t i = 0; i < lb.n_rows(); ++i)
    if (lb.column("method").cell_text(i) == by_mean[0].second) {
      EXPECT_EQ(lb.column("rank").num[i], 1.0);
    }
  EXPECT_TRUE(fs::exists(d.file("out/leaderboard.h5")));
  EXPECT_NE(read_file(d.file("out/leaderboard.md")).find("| rank | method |"), std::string::npos);
}

TEST(Arena, ResumeAfterAKillGivesTheSameLeaderboard) {
  TempDir d;
  const auto cfg = toy_config(write_toy(d));
  arena::RunOptions ro;
  ro.export_winner = false;
  ro.out_dir = d.file("full");
  arena::run_arena(cfg, ro, quiet());
  // A "killed" run: the same run with two cells and every output missing (a kill loses at most
  // the cell in progress; the others are on disk).
  ro.out_dir = d.file("killed");
  arena::run_arena(cfg, ro, quiet());
  for (const char* f : {"leaderboard.csv", "leaderboard.h5", "leaderboard.md", "run_log.csv"})
    fs::remove(fs::path(d.file("killed")) / f);
  fs::remove(fs::path(d.file("killed")) / "cells" / "toy__smote_k_3__s2.json");
  fs::remove(fs::path(d.file("killed")) / "cells" / "toy__none__s1.json");
  // Without --resume the directory is refused.
  EXPECT_THROW(arena::run_arena(cfg, ro, quiet()), InputError);
  ro.resume = true;
  arena::run_arena(cfg, ro, quiet());
  expect_same_leaderboards(d.file("full"), d.file("killed"));
  // A resume with another configuration is refused.
  auto other = cfg;
  other.seeds = 3;
  EXPECT_THROW(arena::run_arena(other, ro, quiet()), InputError);
}

TEST(Arena, ShardsMergedEqualOneRun) {
  TempDir d;
  const auto cfg = toy_config(write_toy(d));
  arena::RunOptions ro;
  ro.export_winner = false;
  ro.out_dir = d.file("one");
  arena::run_arena(cfg, ro, quiet());
  std::vector<std::string> shards;
  for (int k = 1; k <= 4; ++k) {
    ro.out_dir = d.file("shard" + std::to_string(k));
    ro.shard_k = k;
    ro.shard_n = 4;
    arena::run_arena(cfg, ro, quiet());
    shards.push_back(ro.out_dir);
  }
  // 6 cells over 4 shards: 2, 2, 1, 1.
  size_t n = 0;
  for (const auto& s : shards)
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(fs::path(s) / "cells")) ++n;
  EXPECT_EQ(n, 6u);
  arena::merge_arenas(shards, d.file("merged"));
  expect_same_leaderboards(d.file("one"), d.file("merged"));
  int k = 0, nn = 0;
  arena::parse_shard("3/8", &k, &nn);
  EXPECT_EQ(k, 3);
  EXPECT_EQ(nn, 8);
  EXPECT_THROW(arena::parse_shard("0/8", &k, &nn), InputError);
  EXPECT_THROW(arena::parse_shard("9/8", &k, &nn), InputError);
  EXPECT_THROW(arena::parse_shard("3", &k, &nn), InputError);
}

TEST(Arena, AFailingCellIsRecordedAndTheRunGoesOn) {
  TempDir d;
  auto cfg = toy_config(write_toy(d));
  // SMOTEN needs every feature categorical: on this mixed table each of its cells fails.
  cfg.methods = {"none", "smoten", "random-over"};
  arena::RunOptions ro;
  ro.out_dir = d.file("out");
  ro.export_winner = false;
  EXPECT_EQ(arena::run_arena(cfg, ro, quiet()), 2);
  const Table log = read_sheet(d.file("out/run_log.csv"));
  int failed = 0;
  for (size_t i = 0; i < log.n_rows(); ++i)
    if (log.column("status").cell_text(i) == "failed") {
      ++failed;
      EXPECT_EQ(log.column("method").cell_text(i), "smoten");
      EXPECT_NE(log.column("error").cell_text(i).find("categorical"), std::string::npos);
    }
  EXPECT_EQ(failed, 2);
  const Table lb = read_sheet(d.file("out/leaderboard.csv"));
  for (size_t i = 0; i < lb.n_rows(); ++i)
    EXPECT_EQ(lb.column("failed_cells").num[i],
              lb.column("method").cell_text(i) == "smoten" ? 2.0 : 0.0);
}

TEST(Arena, BundleAndValidationSummary) {
  TempDir d;
  const std::string data = write_toy(d);
  auto cfg = toy_config(data);
  cfg.validation = true;
  cfg.seeds = 1;
  arena::RunOptions ro;
  ro.out_dir = d.file("out");
  arena::run_arena(cfg, ro, quiet());
  const fs::path b = fs::path(d.file("out")) / "bundle";
  for (const char* f : {"README.md", "pipeline_config.json", "datasets/train.h5",
                        "datasets/augmented_train.h5", "datasets/test.h5",
                        "models/preprocessor.json", "models/logreg.json", "model_cards/logreg.md"})
    EXPECT_TRUE(fs::exists(b / f)) << f;
  const auto pc = nlohmann::json::parse(read_file((b / "pipeline_config.json").string()));
  EXPECT_EQ(pc["inputs"][0]["sha256"], arena::sha256_file(data));
  EXPECT_NE(pc["method"], "none");
  // Train and test of the bundle are the split the arena used: disjoint, covering the data.
  const Table train = read_table((b / "datasets/train.h5").string(), CsvOptions{});
  const Table test = read_table((b / "datasets/test.h5").string(), CsvOptions{});
  EXPECT_EQ(train.n_rows() + test.n_rows(), 300u);
  const Table aug = read_table((b / "datasets/augmented_train.h5").string(), CsvOptions{});
  EXPECT_GT(aug.n_synthetic(), 0u);
  EXPECT_EQ(aug.n_rows() - aug.n_synthetic(), train.n_rows());
  // The bundle's models score what the arena's cell recorded.
  const std::string cell_id = pc["cell"];
  const auto cell = nlohmann::json::parse(read_file(d.file("out/cells/" + cell_id + ".json")));
  EXPECT_EQ(pc["models"][0]["test_scores"]["augmented"]["pr_auc"],
            cell["classifiers"][0]["augmented"]["pr_auc"]);
  // Validation numbers are present for methods that made rows.
  EXPECT_TRUE(cell["validation"]["mmd2"].is_number());
  EXPECT_TRUE(cell["validation"]["detection_score"].is_number());
  EXPECT_NE(read_file((b / "model_cards/logreg.md").string()).find("## Limitations"),
            std::string::npos);
}

TEST(ArenaCli, RunsResumesMergesAndRejectsBadInput) {
  TempDir d;
  const std::string data = write_toy(d);
  const std::string common = "--data '" + data +
                             "' --methods random-over --classifiers logreg --seeds 2 "
                             "--no-validation -q ";
  auto r = run_cli("arena " + common + "--out '" + d.file("a") + "'");
  ASSERT_EQ(r.status, 0) << r.errors;
  EXPECT_TRUE(fs::exists(d.file("a/leaderboard.md")));
  EXPECT_TRUE(fs::exists(d.file("a/bundle/README.md")));
  // The same directory again: refused without --resume, a no-op with it.
  r = run_cli("arena " + common + "--out '" + d.file("a") + "'");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.errors.find("--resume"), std::string::npos) << r.errors;
  EXPECT_EQ(run_cli("arena " + common + "--resume --out '" + d.file("a") + "'").status, 0);
  // Two shards and a merge.
  for (const char* k : {"1", "2"})
    ASSERT_EQ(
        run_cli("arena " + common + "--shard " + k + "/2 --out '" + d.file("s") + k + "'").status,
        0);
  r = run_cli("arena merge --out '" + d.file("m") + "' '" + d.file("s1") + "' '" + d.file("s2") +
              "'");
  ASSERT_EQ(r.status, 0) << r.errors;
  expect_same_leaderboards(d.file("a"), d.file("m"));
  // Bad input: exit 2, one line.
  for (const std::string& bad :
       {"arena --data '" + d.file("missing.csv") + "' --out '" + d.file("x") + "'",
        "arena " + common + "--shard 3/2 --out '" + d.file("y") + "'",
        "arena --data '" + data + "' --methods smtoe --out '" + d.file("z") + "'",
        "arena --data '" + data + "' --classifiers xgbost --out '" + d.file("z") + "'"}) {
    r = run_cli(bad);
    EXPECT_EQ(r.status, 2) << bad;
    EXPECT_EQ(std::count(r.errors.begin(), r.errors.end(), '\n'), 1) << r.errors;
  }
  for (const char* dir : {"x", "y", "z"}) EXPECT_FALSE(fs::exists(d.file(dir))) << dir;
}

TEST(Arena, TheCommentedExampleConfigParses) {
  const auto c = arena::read_config(source_path("data/arena_example.json"));
  EXPECT_EQ(c.datasets.size(), 3u);
  EXPECT_EQ(c.datasets[0].name, "lending_club");
  EXPECT_EQ(c.datasets[2].name, "noisy_overlap");
  EXPECT_EQ(c.seeds, 5);
  EXPECT_EQ(c.methods.front(), "none");
}

TEST(Arena, ConfigErrorsAreInputErrors) {
  TempDir d;
  write_file(d.file("bad.json"), "{\"datasets\": [\"x.csv\"], \"method\": [\"smote\"]}");
  EXPECT_THROW(arena::read_config(d.file("bad.json")), InputError);
  write_file(d.file("c.json"),
             "// comments are allowed\n{\"datasets\": [\"x.csv\", {\"source\": "
             "\"preset:baseline_easy,rows=500\", \"name\": \"easy\"}], /* inline */ \"seeds\": 2}");
  const auto c = arena::read_config(d.file("c.json"));
  ASSERT_EQ(c.datasets.size(), 2u);
  EXPECT_EQ(c.datasets[0].name, "x");
  EXPECT_EQ(c.datasets[1].name, "easy");
  EXPECT_EQ(c.methods.front(), "none");
  auto bad = toy_config(write_toy(d));
  bad.methods = {"none", "smtoe"};
  EXPECT_THROW(bad.validate(), InputError);
  bad = toy_config(write_toy(d));
  bad.classifiers = {"xgbost"};
  EXPECT_THROW(bad.validate(), InputError);
  // sha256 of "abc" (FIPS 180-2 example).
  write_file(d.file("abc"), "abc");
  EXPECT_EQ(arena::sha256_file(d.file("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace rareforge::test
