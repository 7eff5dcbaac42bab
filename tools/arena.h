// The arena: augmentation methods x classifiers x data sets x seeds, with a leaderboard.
//
// A run is a grid of cells, one per (data set, method, seed). Each cell runs the comparison
// protocol of classifiers/compare.h for that one seed: stratified split (test rows frozen for the
// seed), preprocessing fitted on the training rows, augmentation of the training rows only,
// validation of the synthetic rows against those training rows (validation/validate.h), every
// classifier trained on the original and on the augmented rows, both scored on the test rows.
// The baseline arm of a cell does not depend on the method, so "none" (no augmentation) is a
// method like the others and every method's paired difference is against the same baseline.
//
// Files under OUT (docs/ARENA.md has the schema):
//   arena.json              the resolved configuration (what a --resume must match)
//   cells/<id>.json         one per finished cell, written atomically when the cell ends; a cell
//                           that fails (say, a class too small for a method) is recorded with its
//                           error and the run goes on
//   run_log.csv             one row per cell x classifier: every metric of both arms, times
//   leaderboard.{csv,h5,md} per data set and classifier, methods ranked by the primary metric,
//                           with mean +- std, the paired difference against no augmentation and
//                           its p-values, the validation summary and the time per method; then the
//                           overall mean rank of each method
//   bundle/                 with --export (or for the winner): data sets, models, model cards,
//                           pipeline_config.json, README.md
// run_log.csv and the leaderboard are rebuilt from cells/ at the end of every run, so a killed
// run loses at most the cell in progress, --resume skips finished cells, and `arena merge`
// combines the cells/ of shards (--shard K/N runs every N-th cell).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/context.h"

namespace rareforge::arena {

/// A data set of the arena: a file (.csv/.h5) or a make-data spec ("preset:NAME,k=v,...").
struct DataSetSpec {
  std::string name;    ///< short name used in cell ids and tables (default: the file stem)
  std::string source;  ///< path or make-data spec
  std::string target;  ///< target column ("" = last column)
  std::vector<std::string> categorical;
};

struct ArenaConfig {
  std::vector<DataSetSpec> datasets;
  /// Method specs; "none" = no augmentation (added first if missing).
  std::vector<std::string> methods = {"none", "smote"};
  std::vector<std::string> classifiers = {"xgboost", "logreg"};
  int seeds = 3;
  std::string primary_metric = "pr_auc";
  double test_share = 0.2;
  bool validation = true;
  std::string preprocess = "impute=median,scale=standard";
  std::string strategy = "auto";
  uint64_t seed = 0;  ///< base seed: cell seed s runs with seed + s (as `evaluate`)

  /// Check everything that can be checked before any data is read (specs, names, ranges):
  /// InputError naming the field.
  void validate() const;
  nlohmann::json to_json() const;
  /// From a config file's JSON (comments allowed in the file). `what` names the file.
  static ArenaConfig from_json(const nlohmann::json& j, const std::string& what);
};

/// Read a JSON config file (// and /* */ comments allowed).
ArenaConfig read_config(const std::string& path);

struct Cell {
  size_t index = 0;  ///< position in the grid (data set-major, then method, then seed)
  size_t dataset = 0, method = 0;
  int seed = 1;    ///< 1..seeds
  std::string id;  ///< file-name-safe, unique: "<dataset>__<method>__s<seed>"
};
std::vector<Cell> enumerate_cells(const ArenaConfig& config);

struct RunOptions {
  std::string out_dir;
  bool resume = false;
  int shard_k = 1, shard_n = 1;  ///< run cells with index % n == k - 1
  bool export_winner = true;     ///< write OUT/bundle for the best method (unsharded runs)
  std::string export_cell;       ///< or for this cell id
};

/// Run (or resume) the arena; writes everything under opt.out_dir. Returns the number of cells
/// that failed.
int run_arena(const ArenaConfig& config, const RunOptions& opt, const Context& ctx);

/// Rebuild run_log.csv and the leaderboard of `out_dir` from its cells/. Returns the Markdown
/// leaderboard.
std::string rebuild_outputs(const std::string& out_dir);

/// Combine the cells of several arena directories (shards of one configuration) into `out_dir`
/// and build its outputs. InputError when the configurations differ or a cell id appears twice
/// with different results.
void merge_arenas(const std::vector<std::string>& dirs, const std::string& out_dir);

/// Parse "K/N" (1 <= K <= N).
void parse_shard(const std::string& text, int* k, int* n);

}  // namespace rareforge::arena
