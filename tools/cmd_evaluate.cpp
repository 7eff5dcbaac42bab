// rareforge evaluate --train DATA [--test DATA | --test-share F] [--method SPEC | --augmented DATA]
//                    [--classifiers LIST] [--seeds S] [--tstr] --out FILE
// rareforge classifiers
// The protocol itself is classifiers/compare.h; this file reads the inputs, builds the
// augmentation and writes the outputs.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>

#include "classical/sampler.h"
#include "classifiers/classifier.h"
#include "classifiers/compare.h"
#include "classifiers/importance.h"
#include "core/error.h"
#include "core/generator.h"
#include "core/io.h"
#include "core/log.h"
#include "core/progress.h"
#include "tools/cli_common.h"
#include "tools/extension.h"

namespace rareforge::cli {

namespace {

/// TSTR with a deep generator: fit it on the training rows, then sample as many rows of every
/// class as the training rows have (each class from its own stream, as resample_with_generator).
classifiers::Augmenter tstr_generator(const std::string& spec) {
  make_generator(spec);  // checks the spec before any data is read
  return [spec](const Table& train, const Context& ctx) {
    auto gen = make_generator(spec);
    gen->fit(train, ctx);
    const auto counts = train.class_counts();
    const auto& names = train.class_names();
    Table out;
    bool first = true;
    for (size_t c = 0; c < names.size(); ++c) {
      if (counts[c] == 0) continue;
      Context cctx = ctx;
      cctx.seed = Rng::derive(ctx.seed, streams::kGenerator * 1000003 + c).next();
      Table rows = gen->sample(counts[c], names[c], {}, cctx);
      out = first ? std::move(rows) : Table::concat(out, rows);
      first = false;
    }
    return out;
  };
}

}  // namespace

void register_evaluate(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "evaluate",
      "Does augmentation help? Train classifiers on the original and on the augmented training "
      "data over several seeds, score both on untouched test rows, and test the paired "
      "difference");
  struct Opts {
    std::string train, test, method, augmented, out;
    std::string classifiers = "xgboost,logreg";
    std::string strategy = "auto";
    std::string preprocess = "impute=median,scale=standard";
    std::string primary = "pr_auc";
    double max_ratio = 0;
    double test_share = 0.2;
    int seeds = 10;
    int importance_repeats = 0;
    int top_k = 5;
    bool tstr = false;
    DataFlags data_flags;
    RunFlags run;
  };
  auto opts = std::make_shared<Opts>();
  sub->add_option("--train", opts->train, "Training table (.csv, .h5, .hdf5)")->required();
  auto* test_opt = sub->add_option(
      "--test", opts->test,
      "Frozen test table: the same for every seed (seeds then vary augmentation and classifiers "
      "only)");
  auto* share_opt =
      sub->add_option("--test-share", opts->test_share,
                      "Without --test: share of --train held out per seed (stratified; default "
                      "0.2)");
  test_opt->excludes(share_opt);
  auto* method_opt = sub->add_option(
      "--method,-m", opts->method,
      "Augmentation: a sampler or generator spec NAME[:key=value,...] (`rareforge methods`)");
  auto* aug_opt = sub->add_option(
      "--augmented", opts->augmented,
      "Pre-augmented training table instead of --method (made from --train; needs --test)");
  method_opt->excludes(aug_opt);
  sub->add_option("--strategy,-s", opts->strategy,
                  "Sampling strategy for --method (as `rareforge resample`)");
  sub->add_option("--max-ratio", opts->max_ratio,
                  "Cap each class at R x its original count (R >= 1; 0 = no cap)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--classifiers,-c", opts->classifiers,
                  "Classifier specs, comma-separated (`rareforge classifiers`), e.g. "
                  "xgboost:max_depth=4,logreg (default xgboost,logreg)");
  sub->add_option("--seeds", opts->seeds, "Number of seeds S (default 10)");
  sub->add_flag("--tstr", opts->tstr,
                "Train on synthetic rows only, test on real (TSTR); --method must be a "
                "generator, or --augmented a table with provenance");
  sub->add_option("--preprocess", opts->preprocess,
                  "Preprocessing fitted on each seed's training rows (default "
                  "impute=median,scale=standard)");
  sub->add_option("--primary", opts->primary,
                  "Metric the summary leads with (default pr_auc: PR-AUC of the minority class, "
                  "macro PR-AUC for more than two classes)");
  sub->add_option("--importance-repeats", opts->importance_repeats,
                  "Permutation importance on the test rows with N shuffles per feature (0 = "
                  "off)");
  sub->add_option("--top-k", opts->top_k,
                  "k of the top-k stability of permutation importances across seeds");
  sub->add_option("--out,-o", opts->out,
                  "Results (.json, .csv, .h5); a Markdown table is written beside it (.md)")
      ->required();
  opts->data_flags.add_to(sub);
  opts->run.add_to(sub, true);
  sub->callback([opts] {
    const Context ctx = opts->run.context();
    set_quiet(ctx.quiet);
    // Check everything that needs no data first, so bad usage fails fast.
    const std::string ext = std::filesystem::path(opts->out).extension().string();
    RF_CHECK_INPUT(ext == ".json" || ext == ".csv" || ext == ".h5" || ext == ".hdf5",
                   "--out: '{}' must end in .json, .csv, .h5 or .hdf5 (a Markdown table is "
                   "written beside it)",
                   opts->out);
    RF_CHECK_INPUT(!opts->method.empty() || !opts->augmented.empty(),
                   "evaluate compares a baseline with augmented training data: give --method "
                   "SPEC or --augmented DATA");
    RF_CHECK_INPUT(opts->augmented.empty() || !opts->test.empty(),
                   "--augmented needs --test: a pre-augmented table was made from the whole "
                   "training file, so any test split of that file would have leaked into it");
    RF_CHECK_INPUT(opts->max_ratio == 0 || opts->max_ratio >= 1,
                   "--max-ratio: {} must be at least 1 (or 0 for no cap)", opts->max_ratio);
    classifiers::CompareOptions co;
    co.classifiers = classifiers::split_classifier_list(opts->classifiers);
    for (const auto& spec : co.classifiers)
      load_torch_extension_for(parse_method_spec(spec, "--classifiers").name);
    co.seeds = opts->seeds;
    co.test_share = opts->test_share;
    co.primary_metric = opts->primary;
    co.preprocess = opts->preprocess;
    co.tstr = opts->tstr;
    co.importance_repeats = opts->importance_repeats;
    co.top_k = opts->top_k;
    if (!opts->method.empty()) {
      co.method = opts->method;
      if (opts->tstr) {
        const std::string name = parse_method_spec(opts->method).name;
        RF_CHECK_INPUT(!classical::find_sampler(name),
                       "--tstr: '{}' is a classical sampler, which makes rows of the minority "
                       "classes only; train-on-synthetic needs a deep generator (`rareforge "
                       "methods`)",
                       name);
        RF_CHECK_INPUT(is_generator(opts->method),
                       "--tstr: '{}' is not a deep generator (`rareforge methods` lists them)",
                       name);
        co.augment = tstr_generator(opts->method);
      } else {
        std::optional<double> max_ratio;
        if (opts->max_ratio > 0) max_ratio = opts->max_ratio;
        co.augment = make_augmenter(opts->method, opts->strategy, max_ratio);
      }
    } else {
      co.method = "file " + opts->augmented;
    }
    // Every classifier is built (checked) by run_comparison before any work.
    const CsvOptions csv = opts->data_flags.csv(ctx.threads);
    const Table train = read_table(opts->train, csv);
    RF_CHECK_INPUT(train.has_target(), "{}: evaluate needs a target column (--target)",
                   opts->train);
    std::optional<Table> test, augmented;
    if (!opts->test.empty()) test = read_table(opts->test, csv);
    if (!opts->augmented.empty()) {
      augmented = read_table(opts->augmented, csv);
      co.augmented = &*augmented;
    }
    classifiers::CompareResult res =
        classifiers::run_comparison(train, test ? &*test : nullptr, co, ctx);
    res.inputs["train"] = opts->train;
    if (test) res.inputs["test"] = opts->test;
    if (augmented) res.inputs["augmented"] = opts->augmented;
    res.inputs["seed"] = std::to_string(ctx.seed);
    classifiers::write_comparison(res, opts->out);
    if (!ctx.quiet) {
      for (const auto& c : res.classifiers) {
        const auto& p = c.metric(res.primary_metric).paired;
        std::fprintf(stderr, "%s  %s: baseline %.4f, %s %.4f, difference %+.4f (Wilcoxon p %s)\n",
                     c.label.c_str(), res.primary_metric.c_str(), p.baseline.mean, res.arm.c_str(),
                     p.augmented.mean, p.difference.mean,
                     std::isnan(p.wilcoxon.p_value)
                         ? "n/a"
                         : fmt::format("{:.4g}", p.wilcoxon.p_value).c_str());
      }
      std::fprintf(stderr, "wrote %s and %s\n", opts->out.c_str(),
                   classifiers::markdown_path(opts->out).c_str());
    }
  });
}

void register_classifiers(CLI::App& app) {
  auto* sub = app.add_subcommand("classifiers", "List the classifiers with their parameters");
  sub->callback([] {
    std::string why;
    const bool torch = load_torch_extension(&why);  // adds mlp
    for (const auto& info : classifiers::classifier_registry()) {
      std::printf("%-18s %s%s\n", info.name.c_str(), info.description.c_str(),
                  info.supports_cuda ? "  [cuda]" : "");
      for (const auto& p : info.params) std::printf("    %s\n", describe_param(p).c_str());
    }
    if (!torch) std::printf("(mlp unavailable: %s)\n", why.c_str());
  });
}

}  // namespace rareforge::cli
