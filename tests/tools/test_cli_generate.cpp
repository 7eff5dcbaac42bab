// `rareforge fit`, `sample`, `resample --method <generator>` and the LibTorch extension
// (tools/extension.h) that provides the generators.
#include <algorithm>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/test_util.h"

namespace rareforge::test {
namespace {

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << (haystack)

TEST(CliExtension, CommandsWithoutGeneratorsDoNotLoadLibTorch) {
  // LD_DEBUG=libs makes the dynamic loader name every library it loads.
  const std::string in = source_path("data/hpc_jobs.csv");
  TempDir d;
  auto r = run_cli("inspect '" + in + "'", "LD_DEBUG=libs");
  ASSERT_EQ(r.status, 0);
  EXPECT_EQ(r.errors.find("libtorch"), std::string::npos);
  EXPECT_EQ(r.errors.find("librareforge_torch"), std::string::npos);
  r = run_cli("resample '" + in + "' -m smote -q --out '" + d.file("o.csv") + "'", "LD_DEBUG=libs");
  ASSERT_EQ(r.status, 0);
  EXPECT_EQ(r.errors.find("libtorch"), std::string::npos);
  // Listing the methods loads the extension to list the generators too.
  r = run_cli("methods", "LD_DEBUG=libs");
  ASSERT_EQ(r.status, 0);
  EXPECT_CONTAINS(r.errors, "librareforge_torch.so");
}

TEST(CliExtension, MissingExtensionIsAClearInputError) {
  TempDir d;
  const auto r = run_cli("fit '" + source_path("data/hpc_jobs.csv") + "' --method tvae --model '" +
                             d.file("m.rfm") + "'",
                         "RAREFORGE_TORCH_EXTENSION=/nonexistent/librareforge_torch.so");
  EXPECT_EQ(r.status, 2);
  EXPECT_CONTAINS(r.errors, "RAREFORGE_TORCH_EXTENSION");
  EXPECT_EQ(d.n_entries(), 0u);
  // Classical methods still work without it.
  EXPECT_EQ(run_cli("resample '" + source_path("data/hpc_jobs.csv") + "' -m smote -q --out '" +
                        d.file("o.csv") + "'",
                    "RAREFORGE_TORCH_EXTENSION=/nonexistent/librareforge_torch.so")
                .status,
            0);
}

TEST(CliGenerate, BadInputIsExit2WithOneLineAndNoOutput) {
  TempDir d;
  const std::string in = source_path("data/hpc_jobs.csv");
  const std::string model = d.file("m.rfm"), out = d.file("o.csv");
  auto r = run_cli("fit '" + in + "' --method smote --model '" + model + "'");
  EXPECT_EQ(r.status, 2);
  EXPECT_CONTAINS(r.errors, "rareforge resample");
  r = run_cli("fit '" + in + "' --method no-such-gen --model '" + model + "'");
  EXPECT_EQ(r.status, 2);
  EXPECT_CONTAINS(r.errors, "no-such-gen");
  r = run_cli("fit '" + in + "' --model '" + model + "'");
  EXPECT_EQ(r.status, 2);
  EXPECT_CONTAINS(r.errors, "--method");
  r = run_cli("sample --model '" + d.file("missing.rfm") + "' -n 5 --out '" + out + "'");
  EXPECT_EQ(r.status, 2);
  EXPECT_CONTAINS(r.errors, "missing.rfm");
  write_file(d.file("junk.rfm"), "PK\x03\x04 not a model");
  r = run_cli("sample --model '" + d.file("junk.rfm") + "' -n 5 --out '" + out + "'");
  EXPECT_EQ(r.status, 2);
  EXPECT_CONTAINS(r.errors, "not a rareforge model file");
  r = run_cli("sample --model '" + d.file("junk.rfm") + "' -n 0 --out '" + out + "'");
  EXPECT_EQ(r.status, 2);
  for (const auto& e : {r.errors}) EXPECT_EQ(std::count(e.begin(), e.end(), '\n'), 1) << e;
  EXPECT_EQ(d.n_entries(), 1u);  // only junk.rfm
}

/// 240 rows: two numeric columns, a categorical one, and a 200 / 40 target.
std::string write_small(const TempDir& d) {
  std::string csv = "x,y,color,label\n";
  for (int i = 0; i < 240; ++i) {
    const bool rare = i % 6 == 0;
    csv +=
        fmt::format("{},{},{},{}\n", (i * 37) % 101 / 10.0 + (rare ? 5 : 0), (i * 53) % 89 / 7.0,
                    i % 3 == 0 ? "red" : (i % 3 == 1 ? "green" : "blue"), rare ? "rare" : "common");
  }
  write_file(d.file("small.csv"), csv);
  return d.file("small.csv");
}

size_t count_lines(const std::string& s) { return std::count(s.begin(), s.end(), '\n'); }

TEST(CliGenerate, MethodsListTheGenerators) {
  const auto r = run_cli("methods");
  ASSERT_EQ(r.status, 0);
  for (const char* g : {"ctgan ", "tvae ", "ddpm "}) EXPECT_CONTAINS(r.output, g);
}

TEST(CliGenerate, FitSampleResampleWithTvae) {
  TempDir d;
  const std::string in = write_small(d), model = d.file("m.rfm");
  auto r =
      run_cli("fit '" + in + "' -m tvae:epochs=2,batch=60 --seed 4 -q --model '" + model + "'");
  ASSERT_EQ(r.status, 0) << r.errors;
  // Exactly the asked class, with provenance; same seed, same bytes.
  r = run_cli("sample --model '" + model + "' -n 37 --class rare --seed 2 -q --out '" +
              d.file("a.csv") + "'");
  ASSERT_EQ(r.status, 0) << r.errors;
  ASSERT_EQ(run_cli("sample --model '" + model + "' -n 37 --class rare --seed 2 -q --out '" +
                    d.file("b.csv") + "'")
                .status,
            0);
  const std::string a = read_file(d.file("a.csv"));
  EXPECT_EQ(a, read_file(d.file("b.csv")));
  EXPECT_EQ(count_lines(a), 38u);
  EXPECT_CONTAINS(a, "__synthetic,__method");
  size_t rare = 0, pos = 0;
  while ((pos = a.find(",rare,1,\"tvae:", pos)) != std::string::npos) ++rare, ++pos;
  EXPECT_EQ(rare, 37u) << a.substr(0, 400);
  // Without --class: the training proportions (200 : 40 of 60 rows = 50 : 10).
  ASSERT_EQ(
      run_cli("sample --model '" + model + "' -n 60 -q --out '" + d.file("c.csv") + "'").status, 0);
  const std::string c = read_file(d.file("c.csv"));
  size_t common = 0;
  pos = 0;
  while ((pos = c.find(",common,1,", pos)) != std::string::npos) ++common, ++pos;
  EXPECT_EQ(common, 50u);
  EXPECT_EQ(count_lines(c), 61u);
  // An unknown class lists the classes.
  r = run_cli("sample --model '" + model + "' -n 5 --class nope --out '" + d.file("x.csv") + "'");
  EXPECT_EQ(r.status, 2);
  EXPECT_CONTAINS(r.errors, "classes: rare, common");
  // Resume trains further from the checkpoint.
  EXPECT_EQ(
      run_cli("fit '" + in + "' -m tvae:epochs=1,batch=60 --resume -q --model '" + model + "'")
          .status,
      0);
  // resample fills the plan: auto = every class up to 200, originals first.
  r = run_cli("resample '" + in + "' -m tvae:epochs=2,batch=60 -q --out '" + d.file("r.csv") + "'");
  ASSERT_EQ(r.status, 0) << r.errors;
  r = run_cli("inspect '" + d.file("r.csv") + "' --json");
  ASSERT_EQ(r.status, 0) << r.errors;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["rows"], 400);
}

// A loss that becomes NaN stops `fit` (exit status 1) and keeps the last good state in --model. A
// tvae trained for 2 epochs gets lr = 1e9 written into its file's header (lr is not part of the
// architecture, so the file still loads) and is resumed: epoch 3 diverges, the file is rewritten
// with the state after epoch 2, and it samples exactly what it sampled before.
TEST(CliGenerate, DivergedFitKeepsTheLastGoodState) {
  TempDir d;
  const std::string in = write_small(d), model = d.file("m.rfm");
  ASSERT_EQ(
      run_cli("fit '" + in + "' -m tvae:epochs=2,batch=60 --seed 4 -q --model '" + model + "'")
          .status,
      0);
  std::string bytes = read_file(model);
  const size_t at = bytes.find("lr=0.001,");
  ASSERT_LT(at, bytes.find('\n'));
  bytes.replace(at, 9, "lr=1000000000,");
  write_file(model, bytes);
  auto sample = [&](const std::string& out) {
    return run_cli("sample --model '" + model + "' -n 40 --class rare --seed 2 -q --out '" + out +
                   "'");
  };
  ASSERT_EQ(sample(d.file("before.csv")).status, 0);
  const auto r = run_cli("fit '" + in + "' --resume --seed 4 -q --model '" + model + "'");
  EXPECT_EQ(r.status, 1);
  EXPECT_CONTAINS(r.errors, "tvae: epoch 3: the");
  EXPECT_CONTAINS(r.errors, "that last good state is saved in '" + model + "'");
  ASSERT_EQ(sample(d.file("after.csv")).status, 0);
  EXPECT_EQ(read_file(d.file("before.csv")), read_file(d.file("after.csv")));
}

TEST(CliGenerate, CtganWhereCondition) {
  TempDir d;
  const std::string in = write_small(d), model = d.file("m.rfm");
  ASSERT_EQ(run_cli("fit '" + in + "' -m ctgan:epochs=1,batch=60,pac=10 -q --model '" + model + "'")
                .status,
            0);
  ASSERT_EQ(run_cli("sample --model '" + model +
                    "' -n 30 --class rare --where color=blue -q "
                    "--out '" +
                    d.file("w.csv") + "'")
                .status,
            0);
  const std::string w = read_file(d.file("w.csv"));
  size_t blue_rare = 0, pos = 0;
  while ((pos = w.find(",blue,rare,1,", pos)) != std::string::npos) ++blue_rare, ++pos;
  EXPECT_EQ(blue_rare, 30u) << w.substr(0, 400);
  const auto r = run_cli("sample --model '" + model + "' -n 3 --where color=purple --out '" +
                         d.file("v.csv") + "'");
  EXPECT_EQ(r.status, 2);
  EXPECT_CONTAINS(r.errors, "purple");
}

}  // namespace
}  // namespace rareforge::test
