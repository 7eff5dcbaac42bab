// `rareforge fit`, `sample`, `resample --method <generator>` and the LibTorch extension
// (tools/extension.h) that provides the generators.
#include <algorithm>
#include <string>

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace rareforge::test
