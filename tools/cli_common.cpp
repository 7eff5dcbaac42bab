#include "tools/cli_common.h"

#include "core/error.h"

namespace rareforge::cli {

void DataFlags::add_to(CLI::App* sub) {
  sub->add_option("--target", target, "Target (class) column; default: the last column");
  sub->add_option("--categorical", categorical, "Columns to treat as categorical (comma-separated)")
      ->delimiter(',');
  sub->add_option("--numeric", numeric,
                  "Columns that must be numeric (text in them is an error; comma-separated)")
      ->delimiter(',');
  sub->add_option("--missing", missing,
                  "Tokens that mean a missing value (default: empty,NA,NaN,?,null)")
      ->delimiter(',');
  sub->add_option("--delimiter", delimiter, "CSV field delimiter (one character)");
}

CsvOptions DataFlags::csv(int threads) const {
  CsvOptions o;
  RF_CHECK_INPUT(
      delimiter.size() == 1 && delimiter[0] != '"' && delimiter[0] != '\n' && delimiter[0] != '\r',
      "--delimiter: '{}' must be exactly one character other than a quote or a line "
      "break",
      delimiter);
  o.delimiter = delimiter[0];
  if (!missing.empty()) o.missing_tokens = missing;
  o.categorical = categorical;
  o.numeric = numeric;
  o.target = target;
  o.threads = threads;
  return o;
}

void RunFlags::add_to(CLI::App* sub, bool with_device) {
  sub->add_option("--seed", seed, "Random seed (same seed, same input => same output)");
  sub->add_option("--threads", threads, "Worker threads (0 = all cores)")
      ->check(CLI::NonNegativeNumber);
  if (with_device) sub->add_option("--device", device, "cpu, cuda, cuda:N or auto");
  sub->add_flag("--quiet,-q", quiet, "No progress output");
}

Context RunFlags::context() const {
  Context ctx;
  ctx.device = Device::parse(device);
  ctx.threads = threads;
  ctx.seed = seed;
  ctx.quiet = quiet;
  return ctx;
}

}  // namespace rareforge::cli
