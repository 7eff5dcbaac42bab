// rareforge inspect DATA [--target COL] [--json]: profile a table.
#include <cstdio>

#include "core/error.h"
#include "core/io.h"
#include "tools/cli_common.h"
#include "tools/profile.h"

namespace rareforge::cli {

void register_inspect(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "inspect", "Profile a table: column types, missing values, statistics, class balance");
  struct Opts {
    std::string data;
    bool json = false;
    DataFlags data_flags;
    RunFlags run;
  };
  auto opts = std::make_shared<Opts>();
  sub->add_option("DATA", opts->data, "Table to profile (.csv, .h5, .hdf5)")->required();
  sub->add_flag("--json", opts->json, "Print the profile as JSON");
  opts->data_flags.add_to(sub);
  opts->run.add_to(sub, false);
  sub->callback([opts] {
    const Context ctx = opts->run.context();
    CsvOptions csv = opts->data_flags.csv(ctx.threads);
    csv.require_two_classes = false;  // e.g. a file of synthetic rows of one class
    const Table t = read_table(opts->data, csv);
    const TableProfile p = profile_table(t, opts->data);
    if (opts->json)
      std::printf("%s\n", to_json(p).dump(2).c_str());
    else
      std::printf("%s", to_text(p).c_str());
  });
}

}  // namespace rareforge::cli
