// rareforge resample DATA --method SPEC [--strategy S] [--max-ratio R] --out FILE
// rareforge methods
#include <chrono>
#include <cstdio>

#include "classical/sampler.h"
#include "core/error.h"
#include "core/io.h"
#include "core/log.h"
#include "core/progress.h"
#include "tools/cli_common.h"

namespace rareforge::cli {

void register_resample(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "resample", "Augment (or clean) a training table with a sampling method; writes the result");
  struct Opts {
    std::string data, method, out, strategy = "auto";
    double max_ratio = 0;
    bool only_synthetic = false;
    DataFlags data_flags;
    RunFlags run;
  };
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
  opts->data_flags.add_to(sub);
  opts->run.add_to(sub, true);
  sub->callback([opts] {
    const Context ctx = opts->run.context();
    set_quiet(ctx.quiet);
    format_from_path(opts->out, "--out");
    // Build the method before reading the data, so a bad spec fails fast.
    const auto sampler = classical::make_sampler(opts->method);
    classical::SamplingRequest req;
    req.strategy = opts->strategy;
    req.max_ratio = opts->max_ratio;
    RF_CHECK_INPUT(req.max_ratio == 0 || req.max_ratio >= 1,
                   "--max-ratio: {} must be at least 1 (or 0 for no cap)", req.max_ratio);
    Table input = read_table(opts->data, opts->data_flags.csv(ctx.threads));
    RF_CHECK_INPUT(input.has_target(), "{}: resample needs a target column (--target)", opts->data);
    const std::vector<std::string> names = input.class_names();
    const std::vector<int64_t> before = input.class_counts();
    const auto start = std::chrono::steady_clock::now();
    // The input is not needed afterwards: let the sampler reuse its storage (peak memory).
    classical::ResampleResult res = sampler->resample_owned(std::move(input), req, ctx);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    Table out = std::move(res.table);
    if (opts->only_synthetic) {
      std::vector<size_t> rows;
      for (size_t i = 0; i < out.n_rows(); ++i)
        if (out.provenance().synthetic[i]) rows.push_back(i);
      out = out.select(rows);
    }
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
  auto* sub = app.add_subcommand("methods", "List the sampling methods with their parameters");
  sub->callback([] {
    for (const auto& info : classical::sampler_registry()) {
      std::printf("%-18s %s  [%s]\n", info.name.c_str(), info.description.c_str(),
                  classical::to_string(info.kind));
      for (const auto& p : info.params) std::printf("    %s\n", describe_param(p).c_str());
    }
  });
}

}  // namespace rareforge::cli
