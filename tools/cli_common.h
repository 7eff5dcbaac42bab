// Shared pieces of the `rareforge` CLI: the common flags (DESIGN.md: --target, --categorical,
// --numeric, --seed, --threads, --device, --quiet) and the subcommand registration functions.
//
// Each subcommand lives in its own cmd_*.cpp and registers itself from one function called in
// main.cpp (explicit registration; no static self-registration).
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/context.h"
#include "core/io.h"

namespace rareforge::cli {

/// Flags that say how to read a data file.
struct DataFlags {
  std::string target;
  std::vector<std::string> categorical;
  std::vector<std::string> numeric;
  std::vector<std::string> missing;  ///< replaces the default missing tokens when given
  std::string delimiter = ",";

  void add_to(CLI::App* sub);
  /// CsvOptions from the flags; `threads` from the run flags.
  CsvOptions csv(int threads) const;
};

/// Flags that say how to run: seed, threads, device, quiet.
struct RunFlags {
  uint64_t seed = 0;
  int threads = 0;
  std::string device = "auto";
  bool quiet = false;

  void add_to(CLI::App* sub, bool with_device);
  /// Context from the flags (device parsed, not resolved).
  Context context() const;
};

/// Registration functions, one per subcommand (called from main.cpp).
void register_inspect(CLI::App& app);
void register_convert(CLI::App& app);
void register_resample(CLI::App& app);
void register_methods(CLI::App& app);
void register_validate(CLI::App& app);
void register_evaluate(CLI::App& app);
void register_classifiers(CLI::App& app);
void register_make_data(CLI::App& app);
void register_fit(CLI::App& app);
void register_sample(CLI::App& app);
void register_arena(CLI::App& app);
void register_demo(CLI::App& app);

}  // namespace rareforge::cli
