// rareforge convert IN OUT: CSV <-> HDF5 (format from the extensions).
#include "core/error.h"
#include "core/io.h"
#include "tools/cli_common.h"

namespace rareforge::cli {

void register_convert(CLI::App& app) {
  auto* sub = app.add_subcommand("convert", "Convert a table between CSV and HDF5 (by extension)");
  struct Opts {
    std::string in, out;
    DataFlags data;
    RunFlags run;
  };
  auto opts = std::make_shared<Opts>();
  sub->add_option("IN", opts->in, "Input table (.csv, .h5, .hdf5)")->required();
  sub->add_option("OUT", opts->out, "Output table (.csv, .h5, .hdf5)")->required();
  opts->data.add_to(sub);
  opts->run.add_to(sub, false);
  sub->callback([opts] {
    format_from_path(opts->out, "OUT");
    const Context ctx = opts->run.context();
    CsvOptions csv = opts->data.csv(ctx.threads);
    csv.require_two_classes = false;  // e.g. a file of synthetic rows of one class
    Table t = read_table(opts->in, csv);
    write_table(t, opts->out);
    if (!ctx.quiet)
      std::fprintf(stderr, "wrote %s: %zu rows, %zu columns\n", opts->out.c_str(), t.n_rows(),
                   t.n_cols());
  });
}

}  // namespace rareforge::cli
