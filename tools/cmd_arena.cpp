// rareforge arena [--config FILE] [--data D ...] [--methods LIST] ... --out DIR [--resume]
//                 [--shard K/N] [--export CELL]
// rareforge arena merge --out DIR SHARD_DIR...
// rareforge demo [--out DIR]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "classifiers/compare.h"
#include "core/error.h"
#include "core/log.h"
#include "tools/arena.h"
#include "tools/cli_common.h"
#include "tools/extension.h"

#ifndef RAREFORGE_DATA_DIR
#define RAREFORGE_DATA_DIR ""
#endif

namespace fs = std::filesystem;

namespace rareforge::cli {

namespace {

struct ArenaFlags {
  std::string config, out, shard = "1/1", export_cell, methods, classifiers, primary_metric,
                           preprocess, strategy;
  std::vector<std::string> data;
  int seeds = 0;
  double test_share = 0;
  bool resume = false, no_validation = false, no_export = false;
  RunFlags run;
};

/// The config from --config (if any) with the flags given on the command line applied on top.
arena::ArenaConfig config_from_flags(const ArenaFlags& f) {
  arena::ArenaConfig c;
  if (!f.config.empty()) c = arena::read_config(f.config);
  if (!f.data.empty()) {
    nlohmann::json ds = nlohmann::json::array();
    for (const auto& d : f.data) ds.push_back(d);
    c.datasets = arena::ArenaConfig::from_json({{"datasets", ds}}, "--data").datasets;
  }
  if (!f.methods.empty()) {
    c.methods = classifiers::split_classifier_list(f.methods, "--methods");
    if (std::find(c.methods.begin(), c.methods.end(), "none") == c.methods.end())
      c.methods.insert(c.methods.begin(), "none");
  }
  if (!f.classifiers.empty())
    c.classifiers = classifiers::split_classifier_list(f.classifiers, "--classifiers");
  if (f.seeds > 0) c.seeds = f.seeds;
  if (f.test_share > 0) c.test_share = f.test_share;
  if (!f.primary_metric.empty()) c.primary_metric = f.primary_metric;
  if (!f.preprocess.empty()) c.preprocess = f.preprocess;
  if (!f.strategy.empty()) c.strategy = f.strategy;
  if (f.no_validation) c.validation = false;
  if (f.run.seed != 0) c.seed = f.run.seed;
  return c;
}

int run(const arena::ArenaConfig& cfg, const ArenaFlags& f) {
  Context ctx = f.run.context();
  set_quiet(ctx.quiet);
  arena::RunOptions ro;
  ro.out_dir = f.out;
  ro.resume = f.resume;
  arena::parse_shard(f.shard, &ro.shard_k, &ro.shard_n);
  ro.export_cell = f.export_cell;
  ro.export_winner = !f.no_export;
  const int failed = arena::run_arena(cfg, ro, ctx);
  if (!ctx.quiet) {
    std::ifstream md(fs::path(f.out) / "leaderboard.md");
    std::stringstream ss;
    ss << md.rdbuf();
    std::printf("%s\n", ss.str().c_str());
    std::fprintf(stderr, "arena: outputs in %s (leaderboard.md, leaderboard.csv, run_log.csv%s)\n",
                 f.out.c_str(), fs::exists(fs::path(f.out) / "bundle") ? ", bundle/" : "");
    if (failed > 0)
      std::fprintf(stderr, "arena: %d cell(s) failed; their errors are in run_log.csv\n", failed);
  }
  return failed;
}

std::string data_dir() {
  if (const char* env = std::getenv("RAREFORGE_DATA_DIR"); env && *env) return env;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path installed = exe.parent_path() / ".." / "share" / "rareforge" / "data";
    if (fs::exists(installed / "lending_club.csv")) return installed.string();
  }
  return RAREFORGE_DATA_DIR;
}

}  // namespace

void register_arena(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "arena",
      "Benchmark augmentation methods x classifiers x data sets x seeds; leaderboard and bundle");
  auto f = std::make_shared<ArenaFlags>();
  sub->add_option("--config", f->config,
                  "JSON config (comments allowed; docs/ARENA.md, data/arena_example.json)");
  sub->add_option("--data", f->data,
                  "Data set: a .csv/.h5 path or a make-data spec "
                  "(preset:NAME,k=v,...); repeatable");
  sub->add_option("--methods", f->methods,
                  "Method specs, comma- or ';'-separated (none is always included), e.g. "
                  "\"smote:k=5,adasyn;ctgan:epochs=50\"");
  sub->add_option("--classifiers", f->classifiers, "Classifier specs (default xgboost,logreg)");
  sub->add_option("--seeds", f->seeds, "Seeds per cell (default 3)")->check(CLI::PositiveNumber);
  sub->add_option("--test-share", f->test_share, "Test share of each split (default 0.2)");
  sub->add_option("--primary-metric", f->primary_metric,
                  "Metric that ranks the methods (default pr_auc: minority PR-AUC)");
  sub->add_option("--preprocess", f->preprocess,
                  "Preprocessing spec (default impute=median,scale=standard)");
  sub->add_option("--strategy", f->strategy, "Sampling strategy of every method (default auto)");
  sub->add_flag("--no-validation", f->no_validation, "Skip the validation of synthetic rows");
  sub->add_option("--out,-o", f->out, "Output directory");
  sub->add_flag("--resume", f->resume, "Continue the run in --out, skipping finished cells");
  sub->add_option("--shard", f->shard, "Run shard K of N (every N-th cell), e.g. 2/8");
  sub->add_option("--export", f->export_cell, "Write bundle/ for this cell id (see cells/)");
  sub->add_flag("--no-export", f->no_export, "Do not write bundle/ for the winner");
  f->run.add_to(sub, true);

  auto* merge = sub->add_subcommand("merge", "Combine the cells of shard directories into --out");
  auto mopts = std::make_shared<std::pair<std::string, std::vector<std::string>>>();
  merge->add_option("--out,-o", mopts->first, "Merged output directory")->required();
  merge->add_option("DIRS", mopts->second, "Shard output directories")->required();
  merge->callback([mopts] {
    arena::merge_arenas(mopts->second, mopts->first);
    std::fprintf(stderr, "arena merge: wrote %s (leaderboard.md, leaderboard.csv, run_log.csv)\n",
                 mopts->first.c_str());
  });

  sub->callback([f, merge] {
    if (merge->parsed()) return;
    RF_CHECK_INPUT(!f->out.empty(), "arena: --out DIR is required");
    const arena::ArenaConfig cfg = config_from_flags(*f);
    run(cfg, *f);
  });
}

void register_demo(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "demo", "Small arena on the bundled lending_club data and a make-data preset (~minutes)");
  auto f = std::make_shared<ArenaFlags>();
  f->out = "out/demo";
  sub->add_option("--out,-o", f->out, "Output directory (default out/demo; resumed if present)");
  f->run.add_to(sub, true);
  sub->callback([f] {
    const std::string dir = data_dir();
    const std::string lc = (fs::path(dir) / "lending_club.csv").string();
    RF_CHECK_INPUT(!dir.empty() && fs::exists(lc),
                   "demo: cannot find the bundled data (lending_club.csv); set "
                   "RAREFORGE_DATA_DIR to the data/ folder of the rareforge sources");
    arena::ArenaConfig cfg;
    cfg.datasets = arena::ArenaConfig::from_json(
                       {{"datasets", {lc, "preset:imbalanced_sparse,rows=4000"}}}, "demo")
                       .datasets;
    cfg.methods = {"none", "random-over", "smote", "borderline-smote", "adasyn", "smote-enn"};
    if (load_torch_extension()) {
      // Short trainings: the demo shows the pipeline, not the best each generator can do.
      for (const char* g : {"ctgan:epochs=5", "tvae:epochs=10",
                            "ddpm:train_steps=300,batch=1024,hidden=256-256,sample_steps=25"}) {
        try {
          make_augmenter(g);
          cfg.methods.push_back(g);
        } catch (const InputError&) {
          // a generator this build does not have
        }
      }
    }
    cfg.classifiers = {"xgboost", "logreg"};
    cfg.seeds = 3;
    cfg.seed = f->run.seed;
    f->resume = fs::exists(fs::path(f->out) / "arena.json");
    run(cfg, *f);
  });
}

}  // namespace rareforge::cli
