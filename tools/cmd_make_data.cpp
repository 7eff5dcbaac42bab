// rareforge make-data --preset NAME [--param k=v,...] [--rows N] --seed S --out FILE
// rareforge make-data --list
#include <cstdio>

#include "core/error.h"
#include "core/io.h"
#include "core/log.h"
#include "core/make_data.h"
#include "tools/cli_common.h"

namespace rareforge::cli {

void register_make_data(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "make-data", "Generate a synthetic rare-event table from a preset (see docs/DATA.md)");
  struct Opts {
    std::string preset, out;
    std::vector<std::string> params;
    int64_t rows = 0;
    bool list = false;
    RunFlags run;
  };
  auto opts = std::make_shared<Opts>();
  sub->add_option("--preset,-p", opts->preset, "Preset name; see --list");
  sub->add_option("--param", opts->params,
                  "Parameter overrides key=value,... (repeatable; minority=0.05,0.01 for several "
                  "rare classes)");
  sub->add_option("--rows,-n", opts->rows, "Rows (same as --param rows=N)");
  sub->add_option("--out,-o", opts->out, "Output table (.csv, .h5, .hdf5)");
  sub->add_flag("--list", opts->list, "List the presets and parameters, then exit");
  opts->run.add_to(sub, false);
  sub->callback([opts] {
    if (opts->list) {
      std::printf("Presets:\n");
      for (const auto& p : preset_registry())
        std::printf("  %-18s %s\n", p.name.c_str(), p.description.c_str());
      std::printf("\nParameters (defaults shown are baseline_easy's; each preset sets its own):\n");
      for (const auto& d : make_data_params()) std::printf("  %s\n", describe_param(d).c_str());
      std::printf("\nPreset values:\n");
      for (const auto& p : preset_registry()) std::printf("  %s\n", p.options.spec().c_str());
      return;
    }
    const Context ctx = opts->run.context();
    set_quiet(ctx.quiet);
    RF_CHECK_INPUT(!opts->preset.empty(),
                   "make-data: --preset is required (one of the names `rareforge make-data "
                   "--list` prints)");
    RF_CHECK_INPUT(!opts->out.empty(), "make-data: --out FILE is required (.csv, .h5, .hdf5)");
    format_from_path(opts->out, "--out");
    MakeDataOptions o = preset(opts->preset);
    std::string kv;
    for (const auto& p : opts->params) kv += (kv.empty() || p.empty() ? "" : ",") + p;
    if (opts->rows != 0) {
      RF_CHECK_INPUT(opts->rows > 0, "--rows: {} must be positive", opts->rows);
      kv += (kv.empty() ? "" : ",") + fmt::format("rows={}", opts->rows);
    }
    o = apply_params(o, kv, "--param");
    const Table t = make_rare_event_data(o, ctx);
    write_table(t, opts->out);
    if (!ctx.quiet) {
      const auto counts = t.class_counts();
      std::string summary;
      for (size_t c = 0; c < counts.size(); ++c)
        summary += fmt::format("{}{} {}", c ? " / " : "", t.class_names()[c], counts[c]);
      std::fprintf(stderr, "wrote %s: %zu rows, %zu columns (%s); seed %llu; %s\n",
                   opts->out.c_str(), t.n_rows(), t.n_cols(), summary.c_str(),
                   static_cast<unsigned long long>(ctx.seed), o.spec().c_str());
    }
  });
}

}  // namespace rareforge::cli
