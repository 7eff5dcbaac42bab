// The validation report end to end: validate() on small tables with known answers, the
// `rareforge validate` command (JSON, HDF5, Markdown; bad input -> exit 2 and no file).
#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/hdf5_util.h"
#include "core/io.h"
#include "core/rng.h"
#include "tests/test_util.h"
#include "validation/validate.h"

namespace rareforge::validation {
namespace {

using nlohmann::json;
using test::TempDir;

Table make_table(size_t n, double shift, uint64_t seed, double minority = 0.2) {
  Rng rng(seed);
  std::vector<double> a(n), b(n);
  std::vector<int32_t> c(n), y(n);
  for (size_t i = 0; i < n; ++i) {
    y[i] = rng.uniform() < minority ? 1 : 0;
    a[i] = rng.normal() + shift + y[i];
    b[i] = rng.uniform(0, 10) + 2 * a[i];
    c[i] = int32_t(rng.uniform_int(3));
  }
  Table t;
  t.add_column(Column::numeric("a", a));
  t.add_column(Column::numeric("b", b));
  t.add_column(Column::categorical("g", {"u", "v", "w"}, c));
  t.add_column(Column::categorical("label", {"neg", "pos"}, y));
  t.set_target("label");
  return t;
}

ValidateOptions quick() {
  ValidateOptions o;
  o.permutations = 20;
  o.detectors = {"logreg"};
  return o;
}

TEST(Validate, ReportStructureAndKnownValues) {
  const Table real = make_table(400, 0, 1), syn = make_table(300, 0, 2);
  Context ctx;
  ctx.threads = 2;
  ValidateOptions o = quick();
  o.sensitive = "g";
  const json r = validate(real, syn, nullptr, o, ctx, "real.csv", "syn.csv");
  EXPECT_EQ(r["schema"], "rareforge.validation");
  EXPECT_EQ(r["inputs"]["synthetic_selection"], "all");
  EXPECT_EQ(r["inputs"]["rows_synthetic"], 300);
  const json& o2 = r["overall"];
  EXPECT_EQ(o2["numeric"].size(), 2u);
  EXPECT_EQ(o2["categorical"].size(), 1u);
  EXPECT_EQ(o2["categorical"][0]["category_coverage"], 1.0);
  EXPECT_TRUE(o2["categorical"][0]["unseen_categories"].empty());
  // Same distribution: high quality, detection near chance, no duplicates.
  EXPECT_GT(o2["quality"]["overall"].get<double>(), 0.85);
  EXPECT_GT(o2["detection"]["logreg"]["score"].get<double>(), 0.6);
  EXPECT_EQ(o2["privacy"]["duplicates"]["exact"], 0);
  ASSERT_EQ(r["per_class"].size(), 2u);
  EXPECT_EQ(r["per_class"][1]["class"], "pos");
  // Class balance: after = real + synthetic when the input has no provenance.
  const json& cb = r["class_balance"];
  EXPECT_EQ(cb["after"][0].get<double>(),
            cb["real"][0].get<double>() + cb["synthetic"][0].get<double>());
  double share = 0;
  for (const json& s : r["sensitive"]["share_before"]) share += s.get<double>();
  EXPECT_NEAR(share, 1.0, 1e-12);
  // Every check has a verdict and states its threshold; synthetic rows of every class are
  // judged on the overall comparison.
  EXPECT_TRUE(r["matched"].is_null());
  for (const json& c : r["checks"]) {
    EXPECT_TRUE(c["verdict"] == "pass" || c["verdict"] == "warn" || c["verdict"] == "skipped");
    EXPECT_TRUE(c["threshold"].is_number());
    EXPECT_EQ(c["on"], "overall");
  }
  // Same seed, same report.
  EXPECT_EQ(validate(real, syn, nullptr, o, ctx, "real.csv", "syn.csv").dump(), r.dump());
}

TEST(Validate, SyntheticRowsOfOneClassAreJudgedAgainstThatClass) {
  // As SMOTE writes them: rows of the minority class only, here drawn as that class's real rows.
  const Table real = make_table(600, 0, 21);
  const Table pool = make_table(900, 0, 22, 0.5);
  std::vector<size_t> pos;
  for (size_t i = 0; i < pool.n_rows(); ++i)
    if (pool.labels()[i] == 1) pos.push_back(i);
  const Table syn = pool.select(pos);
  Context ctx;
  ctx.threads = 2;
  const json r = validate(real, syn, nullptr, quick(), ctx);
  const json& m = r["matched"];
  ASSERT_TRUE(m.is_object());
  EXPECT_EQ(m["classes"], json({"pos"}));
  // One class: the matched section is that class's own section.
  json per = r["per_class"][1];
  ASSERT_EQ(per["class"], "pos");
  per.erase("class");
  json mm = m;
  mm.erase("classes");
  EXPECT_EQ(mm, per);
  // Against every real row the minority rows stand out; against their class they do not.
  const double overall_score = r["overall"]["detection"]["logreg"]["score"].get<double>();
  const double matched_score = m["detection"]["logreg"]["score"].get<double>();
  EXPECT_LT(overall_score, matched_score - 0.15) << overall_score << " vs " << matched_score;
  EXPECT_GT(matched_score, 0.7);
  // Fidelity verdicts on matched, privacy on overall.
  for (const json& c : r["checks"]) {
    const std::string name = c["name"];
    if (name == "detection.logreg.score") {
      EXPECT_EQ(c["on"], "matched");
      EXPECT_EQ(c["value"], m["detection"]["logreg"]["score"]);
      EXPECT_EQ(c["verdict"], "pass");
    }
    if (name == "quality.overall") {
      EXPECT_EQ(c["value"], m["quality"]["overall"]);
    }
    if (name.rfind("privacy.", 0) == 0 || name == "categorical.unseen_rows") {
      EXPECT_EQ(c["on"], "overall") << name;
    }
    if (name == "privacy.dcr.baseline_protection") {
      EXPECT_EQ(c["value"], r["overall"]["privacy"]["dcr"]["baseline_protection"]);
    }
  }
  // A progress line counts the sections (overall, two classes; matched reuses class pos).
  ValidateOptions shown = quick();
  shown.progress_rows = 0;
  testing::internal::CaptureStderr();
  EXPECT_EQ(validate(real, syn, nullptr, shown, ctx), r);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("validate  3/3 sections  100%"), std::string::npos) << err;
  // Without per-class sections the matched one is computed on its own.
  ValidateOptions o = quick();
  o.per_class = false;
  const json r2 = validate(real, syn, nullptr, o, ctx);
  EXPECT_EQ(r2["matched"]["classes"], json({"pos"}));
  EXPECT_GT(r2["matched"]["detection"]["logreg"]["score"].get<double>(), 0.6);
  EXPECT_EQ(r2["overall"], r["overall"]);
}

TEST(Validate, CopiesAreDuplicatesAndShiftIsDetected) {
  const Table real = make_table(300, 0, 3);
  // Synthetic = 20 exact copies of real rows + 100 shifted rows.
  std::vector<size_t> copies;
  for (size_t i = 0; i < 20; ++i) copies.push_back(i * 7);
  const Table syn = Table::concat(real.select(copies), make_table(100, 3.0, 4));
  Context ctx;
  const json r = validate(real, syn, nullptr, quick(), ctx);
  const json& dup = r["overall"]["privacy"]["duplicates"];
  EXPECT_EQ(dup["exact"], 20);
  EXPECT_EQ(dup["exact_list"][0]["synthetic_row"], 0);
  EXPECT_EQ(dup["exact_list"][0]["real_row"], 0);
  EXPECT_EQ(dup["exact_list"][1]["real_row"], 7);
  EXPECT_LT(r["overall"]["detection"]["logreg"]["score"].get<double>(), 0.5);
  bool warned = false;
  for (const json& c : r["checks"])
    if (c["name"] == "privacy.duplicates.exact_share") warned = c["verdict"] == "warn";
  EXPECT_TRUE(warned);
}

TEST(Validate, ProvenanceSelectsSyntheticRows) {
  const Table real = make_table(200, 0, 5);
  Table syn = Table::concat(real, make_table(50, 0, 6));
  syn.ensure_provenance();
  for (size_t i = 0; i < syn.n_rows(); ++i) syn.provenance().synthetic[i] = i >= 200;
  Context ctx;
  const json r = validate(real, syn, nullptr, quick(), ctx);
  EXPECT_EQ(r["inputs"]["synthetic_selection"], "provenance");
  EXPECT_EQ(r["inputs"]["rows_synthetic"], 50);
  // The original rows are not compared: no exact duplicates.
  EXPECT_EQ(r["overall"]["privacy"]["duplicates"]["exact"], 0);
  // "after" is the resampled table's class counts.
  const json& cb = r["class_balance"];
  EXPECT_EQ(cb["after"][0].get<double>() + cb["after"][1].get<double>(), 250.0);
  ValidateOptions all = quick();
  all.all_rows = true;
  EXPECT_EQ(validate(real, syn, nullptr, all, ctx)["inputs"]["rows_synthetic"], 250);
}

TEST(Validate, HoldoutGivesOverfittingProtection) {
  const Table real = make_table(200, 0, 7), hold = make_table(200, 0, 8);
  Context ctx;
  const json r = validate(real, real.select({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}), &hold, quick(), ctx);
  // Copies of training rows are closer to training than to the holdout: protection 0.
  EXPECT_EQ(r["overall"]["privacy"]["dcr"]["closer_to_training"], 1.0);
  EXPECT_EQ(r["overall"]["privacy"]["dcr"]["overfitting_protection"], 0.0);
}

TEST(Validate, BadInputIsInputError) {
  const Table real = make_table(100, 0, 9);
  Context ctx;
  Table other = real;
  other.remove_column(1);
  EXPECT_THROW(validate(real, other, nullptr, quick(), ctx), InputError);
  Table empty = real.select({});
  EXPECT_THROW(validate(real, empty, nullptr, quick(), ctx), InputError);
  // A synthetic class the real table lacks.
  Table syn = make_table(30, 0, 10);
  syn.column(3).spec.categories = {"neg", "other"};
  syn.set_target("label");
  EXPECT_THROW(validate(real, syn, nullptr, quick(), ctx), InputError);
  ValidateOptions o = quick();
  o.sensitive = "a";  // numeric
  EXPECT_THROW(validate(real, real, nullptr, o, ctx), InputError);
  o = quick();
  o.detectors = {"nosuch"};
  EXPECT_THROW(validate(real, real, nullptr, o, ctx), InputError);
}

TEST(Duplicates, SyntheticCopiesOfOriginalRowsAreFound) {
  const Table orig = make_table(60, 0, 15);
  Table t = Table::concat(orig, Table::concat(orig.select({4, 9}), make_table(5, 1, 16)));
  t.ensure_provenance();
  for (size_t i = 0; i < t.n_rows(); ++i) t.provenance().synthetic[i] = i >= 60;
  // Rows 60, 61 copy originals 4 and 9; a copy that differs in one bit is not a duplicate.
  t.column(0).num[64] = orig.column(0).num[10];
  t.column(1).num[64] = std::nextafter(orig.column(1).num[10], 1e9);
  t.column(2).codes[64] = orig.column(2).codes[10];
  EXPECT_EQ(synthetic_exact_duplicates(t), (std::vector<size_t>{60, 61}));
  // Missing equals missing.
  t.column(1).num[4] = std::numeric_limits<double>::quiet_NaN();
  t.column(1).num[60] = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(synthetic_exact_duplicates(t), (std::vector<size_t>{60, 61}));
}

/// Writes a real and a synthetic table into `dir` and returns the `validate` command line for
/// them (short: 10 permutations, logreg detection), ending in a space.
std::string validate_command(const TempDir& dir) {
  const std::string real = dir.file("real.csv"), syn = dir.file("syn.csv");
  write_csv(make_table(150, 0, 11), real);
  write_csv(make_table(120, 0.2, 12), syn);
  return "validate --real '" + real + "' --synthetic '" + syn +
         "' --target label --permutations 10 --detectors logreg --seed 3 -q ";
}

TEST(ValidateCli, WritesJsonH5AndMarkdown) {
  TempDir dir;
  const std::string common = validate_command(dir);
  const auto a = test::run_cli(common + "--out '" + dir.file("r.json") + "'");
  ASSERT_EQ(a.status, 0) << a.errors;
  const json r = json::parse(test::read_file(dir.file("r.json")));
  EXPECT_EQ(r["schema"], "rareforge.validation");
  const std::string md = test::read_file(dir.file("r.md"));
  EXPECT_NE(md.find("| check | value | threshold | on | verdict |"), std::string::npos);
  const auto b = test::run_cli(common + "--out '" + dir.file("r.h5") + "'");
  ASSERT_EQ(b.status, 0) << b.errors;
  h5::File f = h5::File::open(dir.file("r.h5"));
  EXPECT_EQ(json::parse(f.attr_str("json")), r);
  EXPECT_EQ(f.attr_str("schema"), "rareforge.validation");
  EXPECT_EQ(f.open_group("overall").open_group("quality").attr_f64("overall"),
            r["overall"]["quality"]["overall"].get<double>());
}

TEST(ValidateCli, DeviceFlag) {
  TempDir dir;
  const std::string common = validate_command(dir);
  // The default and `auto` on a machine without a GPU run on the CPU and say so in the report.
  for (const std::string& flag : {std::string(), std::string("--device auto ")}) {
    const std::string out = dir.file("r" + std::to_string(flag.size()) + ".json");
    const auto a = test::run_cli(common + flag + "--out '" + out + "'");
    ASSERT_EQ(a.status, 0) << a.errors;
    const json r = json::parse(test::read_file(out));
    if (flag.empty()) {
      EXPECT_EQ(r["parameters"]["device"], "cpu");
    }
    if (r["parameters"]["device"] == "cpu") continue;
    EXPECT_EQ(r["parameters"]["device"], "cuda:0");  // auto found a GPU
  }
  // A device that is not one: exit 2, one message naming the flag, no report.
  auto b = test::run_cli(common + "--device tpu --out '" + dir.file("x.json") + "'");
  EXPECT_EQ(b.status, 2);
  EXPECT_NE(b.errors.find("--device"), std::string::npos) << b.errors;
  EXPECT_FALSE(std::filesystem::exists(dir.file("x.json")));
  // cuda where LibTorch sees no GPU: exit 2 naming the device and suggesting the CPU.
  b = test::run_cli(common + "--device cuda --out '" + dir.file("y.json") + "'",
                    "CUDA_VISIBLE_DEVICES=");
  EXPECT_EQ(b.status, 2) << b.errors;
  EXPECT_NE(b.errors.find("--device cuda"), std::string::npos) << b.errors;
  EXPECT_NE(b.errors.find("--device cpu"), std::string::npos) << b.errors;
  EXPECT_FALSE(std::filesystem::exists(dir.file("y.json")));
}

TEST(ResampleCli, DropDuplicatesRemovesCopiedRows) {
  TempDir dir;
  // Two identical minority rows: SMOTE between them can only copy them.
  Table t = make_table(40, 0, 17, 0.0);
  t.column(3).codes[0] = 1;
  t.column(3).codes[1] = 1;
  t.column(3).codes[2] = 1;
  for (size_t c = 0; c < 3; ++c) {
    if (t.column(c).is_numeric()) {
      t.column(c).num[1] = t.column(c).num[0];
      t.column(c).num[2] = t.column(c).num[0];
    } else {
      t.column(c).codes[1] = t.column(c).codes[0];
      t.column(c).codes[2] = t.column(c).codes[0];
    }
  }
  write_csv(t, dir.file("in.csv"));
  const std::string base =
      "resample '" + dir.file("in.csv") + "' --method smote:k=2 --target label -q ";
  ASSERT_EQ(test::run_cli(base + "--out '" + dir.file("a.csv") + "'").status, 0);
  const auto r = test::run_cli(base + "--drop-duplicates --out '" + dir.file("b.csv") + "'");
  ASSERT_EQ(r.status, 0) << r.errors;
  CsvOptions o;
  o.target = "label";
  const Table a = read_csv(dir.file("a.csv"), o), b = read_csv(dir.file("b.csv"), o);
  EXPECT_GT(a.n_synthetic(), 0u);
  EXPECT_EQ(synthetic_exact_duplicates(a).size(), a.n_synthetic());
  EXPECT_EQ(b.n_synthetic(), 0u);
  EXPECT_EQ(b.n_rows(), 40u);
}

TEST(ValidateCli, SyntheticRowsOfOneClass) {
  // What `sample --class pos` or `resample --only-synthetic` writes: rows of one class. validate,
  // inspect and convert read such a file (resample still needs two classes).
  TempDir dir;
  const std::string real = dir.file("real.csv"), syn = dir.file("pos.csv"), h5 = dir.file("pos.h5");
  write_csv(make_table(150, 0, 11), real);
  const Table all = make_table(200, 0.2, 12, 0.5);
  std::vector<size_t> pos;
  for (size_t i = 0; i < all.n_rows(); ++i)
    if (all.labels()[i] == 1) pos.push_back(i);
  write_csv(all.select(pos), syn);
  const std::string tail = "' --target label --permutations 10 --detectors logreg --seed 3 -q ";
  auto r = test::run_cli("validate --real '" + real + "' --synthetic '" + syn + tail + "--out '" +
                         dir.file("r.json") + "'");
  ASSERT_EQ(r.status, 0) << r.errors;
  const json j = json::parse(test::read_file(dir.file("r.json")));
  // Classes in the real file's order (first appearance in real.csv).
  const json& classes = j["class_balance"]["classes"];
  ASSERT_EQ(classes.size(), 2u);
  const size_t at = classes[0] == "pos" ? 0 : 1;
  EXPECT_EQ(classes[at], "pos");
  EXPECT_EQ(j["class_balance"]["synthetic"][at], double(pos.size()));
  EXPECT_EQ(j["class_balance"]["synthetic"][1 - at], 0.0);
  EXPECT_EQ(j["per_class"].size(), 2u);
  r = test::run_cli("inspect '" + syn + "' --target label");
  ASSERT_EQ(r.status, 0) << r.errors;
  EXPECT_NE(r.output.find("pos"), std::string::npos) << r.output;
  r = test::run_cli("convert '" + syn + "' '" + h5 + "' --target label -q");
  ASSERT_EQ(r.status, 0) << r.errors;
  r = test::run_cli("validate --real '" + real + "' --synthetic '" + h5 + tail + "--out '" +
                    dir.file("r2.json") + "'");
  ASSERT_EQ(r.status, 0) << r.errors;
  EXPECT_EQ(json::parse(test::read_file(dir.file("r2.json")))["class_balance"]["synthetic"],
            j["class_balance"]["synthetic"]);
  r = test::run_cli("resample '" + syn + "' --target label -m smote --out '" + dir.file("x.csv") +
                    "'");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.errors.find("has only one class ('pos')"), std::string::npos) << r.errors;
}

TEST(ValidateCli, BadInputExitsTwoAndWritesNothing) {
  TempDir dir;
  const std::string real = dir.file("real.csv"), syn = dir.file("syn.csv");
  write_csv(make_table(50, 0, 13), real);
  Table other = make_table(50, 0, 14);
  other.remove_column(0);
  write_csv(other, syn);
  const size_t before = dir.n_entries();
  const auto a = test::run_cli("validate --real '" + real + "' --synthetic '" + syn +
                               "' --target label --out '" + dir.file("r.json") + "'");
  EXPECT_EQ(a.status, 2);
  EXPECT_NE(a.errors.find("different schemas"), std::string::npos) << a.errors;
  EXPECT_EQ(dir.n_entries(), before);
  const auto b = test::run_cli("validate --real '" + real + "' --synthetic '" + real +
                               "' --target label --out '" + dir.file("r.csv") + "'");
  EXPECT_EQ(b.status, 2);
  EXPECT_EQ(dir.n_entries(), before);
}

}  // namespace
}  // namespace rareforge::validation
