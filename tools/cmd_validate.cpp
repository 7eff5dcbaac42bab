// rareforge validate --real DATA --synthetic DATA [--holdout DATA] --out REPORT
#include <chrono>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io.h"
#include "core/log.h"
#include "core/progress.h"
#include "tools/cli_common.h"
#include "tools/extension.h"
#include "validation/accel.h"
#include "validation/validate.h"

namespace rareforge::cli {

namespace {

/// The device for the MMD sums and DCR scans: cpu as is; cuda[:N] needs the LibTorch extension
/// (an error naming what is missing otherwise); auto takes cuda:0 when the extension loads and
/// sees a GPU, else cpu.
std::string validation_device(const Device& d) {
  if (d.kind == Device::Kind::kCpu) return "cpu";
  std::string why;
  const bool loaded = load_torch_extension(&why);
  if (d.kind == Device::Kind::kAuto) {
    if (!loaded) return "cpu";
    try {
      validation::check_device("cuda:0");
      return "cuda:0";
    } catch (const InputError&) {
      return "cpu";
    }
  }
  RF_CHECK_INPUT(loaded, "--device {}: the device kernels live in the LibTorch extension: {}",
                 d.str(), why);
  validation::check_device(d.str());
  return d.str();
}

}  // namespace

void register_validate(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "validate",
      "Compare synthetic rows with the real rows: fidelity, detection, coverage, privacy; writes "
      "a JSON or HDF5 report and a Markdown summary beside it");
  struct Opts {
    std::string real, synthetic, holdout, out;
    std::vector<std::string> detectors = {"logreg", "xgboost"};
    validation::ValidateOptions v;
    bool no_per_class = false;
    DataFlags data_flags;
    RunFlags run;
  };
  auto opts = std::make_shared<Opts>();
  sub->add_option("--real", opts->real, "Real (training) table (.csv, .h5, .hdf5)")->required();
  sub->add_option("--synthetic", opts->synthetic,
                  "Synthetic table; a resampled file's rows with __synthetic=1 are compared")
      ->required();
  sub->add_option("--holdout", opts->holdout,
                  "Real rows not used to make the synthetic ones (DCR overfitting protection)");
  sub->add_option("--out,-o", opts->out, "Report: .json or .h5/.hdf5 (Markdown summary beside it)")
      ->required();
  sub->add_flag("--all-rows", opts->v.all_rows,
                "Compare every row of --synthetic, ignoring its __synthetic provenance column");
  sub->add_flag("--no-per-class", opts->no_per_class, "Only the overall comparison");
  sub->add_option("--sensitive", opts->v.sensitive,
                  "Categorical column whose groups' shares are reported before and after");
  sub->add_option("--permutations", opts->v.permutations,
                  "MMD permutation test: permutations (0 = no p-value)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--perm-rows", opts->v.perm_rows,
                  "MMD permutation test: rows per sample (seeded subsample beyond)");
  sub->add_option("--detectors", opts->detectors,
                  "Detection classifiers, one spec each (e.g. --detectors logreg "
                  "xgboost:max_depth=3,gamma=1; none = no detection score)");
  sub->add_option("--folds", opts->v.folds, "Detection: stratified folds");
  sub->add_option("--detection-rows", opts->v.detection_rows,
                  "Detection: rows per side (seeded subsample beyond; 0 = all)");
  sub->add_option("--prdc-k", opts->v.prdc_k, "PRDC neighbourhood size");
  sub->add_option("--near-threshold", opts->v.near_threshold,
                  "A synthetic row with 0 < DCR <= this is a near duplicate");
  sub->add_option("--random-rows", opts->v.random_rows, "DCR baseline: uniformly random rows");
  opts->data_flags.add_to(sub);
  opts->run.device = "cpu";  // the CPU kernels need no LibTorch; cuda / auto load it
  opts->run.add_to(sub, true);
  sub->callback([opts] {
    const Context ctx = opts->run.context();
    set_quiet(ctx.quiet);
    validation::ValidateOptions v = opts->v;
    v.per_class = !opts->no_per_class;
    v.device = validation_device(ctx.device);
    v.detectors.clear();
    for (const std::string& d : opts->detectors)
      if (d != "none") v.detectors.push_back(d);
    v.validate();
    // Check the output name before the work.
    const std::string& out = opts->out;
    auto ends_with = [&](const std::string& e) {
      return out.size() > e.size() && out.compare(out.size() - e.size(), e.size(), e) == 0;
    };
    RF_CHECK_INPUT(ends_with(".json") || ends_with(".h5") || ends_with(".hdf5"),
                   "--out: '{}' must end in .json (JSON) or .h5 / .hdf5 (HDF5)", out);
    CsvOptions csv = opts->data_flags.csv(ctx.threads);
    csv.require_two_classes = false;  // synthetic rows of one class, or real rows of one
    const Table real = read_table(opts->real, csv);
    const Table synthetic = read_table(opts->synthetic, csv);
    Table holdout;
    if (!opts->holdout.empty()) holdout = read_table(opts->holdout, csv);
    const auto start = std::chrono::steady_clock::now();
    const nlohmann::json report =
        validation::validate(real, synthetic, opts->holdout.empty() ? nullptr : &holdout, v, ctx,
                             opts->real, opts->synthetic, opts->holdout);
    validation::write_report(report, out);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!ctx.quiet) {
      size_t warns = 0;
      for (const auto& c : report["checks"]) warns += c["verdict"] == "warn";
      std::fprintf(stderr, "validated in %s; wrote %s and %s: %zu check(s), %zu warn.\n",
                   Progress::format_duration(seconds).c_str(), out.c_str(),
                   validation::summary_path(out).c_str(), report["checks"].size(), warns);
    }
  });
}

}  // namespace rareforge::cli
