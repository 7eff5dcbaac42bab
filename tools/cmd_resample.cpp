// rareforge resample DATA --method SPEC [--strategy S] [--max-ratio R] --out FILE
// rareforge methods
// Classical samplers run here; deep generators (ctgan, tvae, ddpm) come from the LibTorch
// extension (tools/extension.h), loaded only when named.
#include <chrono>
#include <cstdio>

#include "classical/knn.h"
#include "classical/sampler.h"
#include "core/error.h"
#include "core/generator.h"
#include "core/io.h"
#include "core/log.h"
#include "core/progress.h"
#include "tools/cli_common.h"
#include "tools/extension.h"
#include "validation/validate.h"

namespace rareforge::cli {

namespace {

struct ResampleOpts {
  std::string data, method, out, strategy = "auto";
  double max_ratio = 0;
  bool only_synthetic = false;
  bool drop_duplicates = false;
  DataFlags data_flags;
  RunFlags run;
};

Table only_synthetic_rows(const Table& t) {
  std::vector<size_t> rows;
  for (size_t i = 0; i < t.n_rows(); ++i)
    if (t.provenance().synthetic[i]) rows.push_back(i);
  return t.select(rows);
}

/// --drop-duplicates: remove the synthetic rows whose features copy an original row exactly.
Table drop_duplicate_rows(const Table& t, bool quiet) {
  const std::vector<size_t> dup = validation::synthetic_exact_duplicates(t);
  if (dup.empty()) return t;
  std::vector<size_t> keep;
  size_t k = 0;
  for (size_t i = 0; i < t.n_rows(); ++i) {
    if (k < dup.size() && dup[k] == i) {
      ++k;
      continue;
    }
    keep.push_back(i);
  }
  if (!quiet)
    std::fprintf(stderr, "dropped %zu synthetic row(s) that copy an original row\n", dup.size());
  return t.select(keep);
}

/// resample --method ctgan|tvae|ddpm: fit the generator on the table, sample the plan.
void resample_deep(const ResampleOpts& o) {
  const Context ctx = o.run.context();
  RF_CHECK_INPUT(o.max_ratio == 0 || o.max_ratio >= 1,
                 "--max-ratio: {} must be at least 1 (or 0 for no cap)", o.max_ratio);
  auto gen = make_generator(o.method);
  const Table input = read_table(o.data, o.data_flags.csv(ctx.threads));
  RF_CHECK_INPUT(input.has_target(), "{}: resample needs a target column (--target)", o.data);
  const auto start = std::chrono::steady_clock::now();
  std::vector<int64_t> made;
  Table out = resample_with_generator(
      *gen, input, o.strategy, o.max_ratio > 0 ? std::optional<double>(o.max_ratio) : std::nullopt,
      ctx, &made);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (o.drop_duplicates) out = drop_duplicate_rows(out, ctx.quiet);
  if (o.only_synthetic) out = only_synthetic_rows(out);
  write_table(out, o.out);
  if (!ctx.quiet) {
    std::string summary;
    const auto before = input.class_counts();
    for (size_t c = 0; c < made.size(); ++c)
      summary += fmt::format("{}  {}: {} -> {} (+{})", c ? ";" : "", input.class_names()[c],
                             before[c], before[c] + made[c], made[c]);
    std::fprintf(stderr, "fitted and sampled in %s; wrote %s: %zu rows (%zu synthetic).%s\n",
                 Progress::format_duration(seconds).c_str(), o.out.c_str(), out.n_rows(),
                 out.n_synthetic(), summary.c_str());
  }
}

}  // namespace

void register_resample(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "resample", "Augment (or clean) a training table with a sampling method; writes the result");
  using Opts = ResampleOpts;
  auto opts = std::make_shared<Opts>();
  sub->add_option("DATA", opts->data, "Training table (.csv, .h5, .hdf5)")->required();
  sub->add_option("--method,-m", opts->method,
                  "Method spec NAME[:key=value,...]; see `rareforge methods`")
      ->required();
  sub->add_option("--strategy,-s", opts->strategy,
                  "auto | minority | not minority | not majority | all | RATIO | class=count,...");
  sub->add_option("--max-ratio", opts->max_ratio,
                  "Cap each class at R x its original count (R >= 1; 0 = no cap)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--out,-o", opts->out, "Output table (.csv, .h5, .hdf5)")->required();
  sub->add_flag("--only-synthetic", opts->only_synthetic, "Write only the synthetic rows");
  sub->add_flag("--drop-duplicates", opts->drop_duplicates,
                "Remove synthetic rows whose features equal an original row's (exact copies)");
  opts->data_flags.add_to(sub);
  opts->run.add_to(sub, true);
  sub->callback([opts] {
    const Context ctx = opts->run.context();
    set_quiet(ctx.quiet);
    format_from_path(opts->out, "--out");
    // Build the method before reading the data, so a bad spec fails fast.
    if (is_generator(opts->method)) return resample_deep(*opts);
    make_augmenter(opts->method);  // an unknown method: the error lists every valid one
    const auto sampler = classical::make_sampler(opts->method);
    classical::SamplingRequest req;
    req.strategy = opts->strategy;
    req.max_ratio = opts->max_ratio;
    RF_CHECK_INPUT(req.max_ratio == 0 || req.max_ratio >= 1,
                   "--max-ratio: {} must be at least 1 (or 0 for no cap)", req.max_ratio);
    // Room for as many new rows as there are rows (enough for `auto` on two classes), so the
    // sampler appends in place; untouched address space costs no memory.
    CsvOptions csv = opts->data_flags.csv(ctx.threads);
    csv.headroom = 1.0;
    Table input = read_table(opts->data, csv);
    RF_CHECK_INPUT(input.has_target(), "{}: resample needs a target column (--target)", opts->data);
    const std::vector<std::string> names = input.class_names();
    const std::vector<int64_t> before = input.class_counts();
    const auto start = std::chrono::steady_clock::now();
    // The input is not needed afterwards: let the sampler reuse its storage (peak memory).
    // Long neighbour searches (SMOTE-ENN on a million rows: minutes) show progress with an ETA.
    const knn::ProgressScope progress(opts->method.substr(0, opts->method.find(':')), ctx.quiet);
    classical::ResampleResult res = sampler->resample_owned(std::move(input), req, ctx);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    Table out = std::move(res.table);
    if (opts->drop_duplicates) out = drop_duplicate_rows(out, ctx.quiet);
    if (opts->only_synthetic) out = only_synthetic_rows(out);
    write_table(out, opts->out);
    if (!ctx.quiet) {
      std::string summary;
      for (size_t c = 0; c < names.size(); ++c)
        summary +=
            fmt::format("{}  {}: {} -> {} (+{} -{})", c ? ";" : "", names[c], before[c],
                        before[c] + res.made[c] - res.removed[c], res.made[c], res.removed[c]);
      std::fprintf(stderr, "resampled in %s; wrote %s: %zu rows (%zu synthetic).%s\n",
                   Progress::format_duration(seconds).c_str(), opts->out.c_str(), out.n_rows(),
                   out.n_synthetic(), summary.c_str());
    }
  });
}

void register_methods(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "methods", "List the sampling methods and deep generators with their parameters");
  sub->callback([] {
    for (const auto& info : classical::sampler_registry()) {
      std::printf("%-18s %s  [%s]\n", info.name.c_str(), info.description.c_str(),
                  classical::to_string(info.kind));
      for (const auto& p : info.params) std::printf("    %s\n", describe_param(p).c_str());
    }
    std::string why;
    if (!load_torch_extension(&why)) {
      std::printf("(deep generators unavailable: %s)\n", why.c_str());
      return;
    }
    for (const auto& info : generator_registry()) {
      std::printf("%-18s %s  [generator]\n", info.name.c_str(), info.description.c_str());
      for (const auto& p : info.params) std::printf("    %s\n", describe_param(p).c_str());
    }
  });
}

}  // namespace rareforge::cli
