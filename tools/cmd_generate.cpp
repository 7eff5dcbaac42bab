// rareforge fit DATA --method SPEC --model FILE [--resume]
// rareforge sample --model FILE --n N [--class C] [--where COL=VALUE] --out FILE
// The deep generators come from the LibTorch extension (tools/extension.h).
#include <chrono>
#include <cmath>
#include <cstdio>

#include "classical/sampler.h"
#include "core/error.h"
#include "core/generator.h"
#include "core/io.h"
#include "core/log.h"
#include "core/progress.h"
#include "tools/cli_common.h"
#include "tools/extension.h"

namespace rareforge::cli {

namespace {

/// Make sure `name` is a generator; a classical sampler or an unknown name is an InputError
/// that says what to do.
void require_generator(const std::string& spec) {
  const std::string name = parse_method_spec(spec).name;
  RF_CHECK_INPUT(!classical::find_sampler(name),
                 "--method: '{}' is a classical sampler, which needs no fitting: use "
                 "`rareforge resample DATA --method {}`",
                 name, spec);
  if (is_generator(spec)) return;
  std::string why;
  RF_CHECK_INPUT(load_torch_extension(&why), "--method: unknown generator '{}'; {}", name, why);
  make_generator(spec);  // throws, listing the valid generators
}

/// Rows per class for `n` rows in the training proportions (largest remainder, ties to the
/// lower class index): they sum to n exactly.
std::vector<int64_t> proportional_counts(const std::vector<int64_t>& counts, int64_t n) {
  double total = 0;
  for (int64_t c : counts) total += static_cast<double>(c);
  std::vector<int64_t> out(counts.size(), 0);
  std::vector<std::pair<double, size_t>> rest;
  int64_t given = 0;
  for (size_t c = 0; c < counts.size(); ++c) {
    const double share = total > 0 ? static_cast<double>(n) * counts[c] / total : 0;
    out[c] = static_cast<int64_t>(std::floor(share));
    given += out[c];
    rest.emplace_back(-(share - std::floor(share)), c);
  }
  std::sort(rest.begin(), rest.end());
  for (size_t i = 0; given < n && i < rest.size(); ++i, ++given) ++out[rest[i].second];
  return out;
}

}  // namespace

void register_fit(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "fit", "Train a deep generator (ctgan, tvae, ddpm) on a table and save it as a model file");
  struct Opts {
    std::string data, method, model;
    bool resume = false;
    DataFlags data_flags;
    RunFlags run;
  };
  auto opts = std::make_shared<Opts>();
  sub->add_option("DATA", opts->data, "Training table (.csv, .h5, .hdf5)")->required();
  sub->add_option("--method,-m", opts->method,
                  "Generator spec NAME[:key=value,...], e.g. ctgan:epochs=300; see "
                  "`rareforge methods`");
  sub->add_option("--model", opts->model, "Model file to write (read first with --resume)")
      ->required();
  sub->add_flag("--resume", opts->resume,
                "Continue training the model in --model (its method and settings) for the "
                "configured epochs");
  opts->data_flags.add_to(sub);
  opts->run.add_to(sub, true);
  sub->callback([opts] {
    const Context ctx = opts->run.context();
    set_quiet(ctx.quiet);
    std::unique_ptr<Generator> gen;
    if (opts->resume) {
      const CheckpointHeader h = read_checkpoint_header(opts->model);
      RF_CHECK_INPUT(opts->method.empty() || parse_method_spec(opts->method).name == h.method,
                     "--resume: '{}' holds a {} model, not {}", opts->model, h.method,
                     parse_method_spec(opts->method).name);
      require_generator(h.spec);
      gen = load_generator(opts->model, ctx);
    } else {
      RF_CHECK_INPUT(!opts->method.empty(), "fit: --method is required (e.g. --method ctgan)");
      require_generator(opts->method);
      gen = make_generator(opts->method);
    }
    const Table train = read_table(opts->data, opts->data_flags.csv(ctx.threads));
    RF_CHECK_INPUT(train.has_target(), "{}: fit needs a target column (--target)", opts->data);
    if (opts->resume)
      RF_CHECK_INPUT(train.schema() == gen->schema(),
                     "--resume: {} does not have the columns, kinds and categories the model in "
                     "'{}' was trained on",
                     opts->data, opts->model);
    const auto start = std::chrono::steady_clock::now();
    try {
      gen->fit(train, ctx, opts->resume);
    } catch (const TrainingDiverged& e) {
      // The generator is back at its last good state: keep it, so the run is not lost.
      if (!gen->fitted()) throw;
      gen->save(opts->model);
      throw TrainingDiverged(
          fmt::format("{}; that last good state is saved in '{}' (continue it with --resume)",
                      e.what(), opts->model));
    }
    gen->save(opts->model);
    if (!ctx.quiet)
      std::fprintf(
          stderr, "trained %s in %s; wrote %s\n", gen->spec().c_str(),
          Progress::format_duration(
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count())
              .c_str(),
          opts->model.c_str());
  });
}

void register_sample(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "sample", "Draw synthetic rows from a model file, exactly of a class if --class is given");
  struct Opts {
    std::string model, out, cls;
    int64_t n = 0;
    std::vector<std::string> where;
    RunFlags run;
  };
  auto opts = std::make_shared<Opts>();
  sub->add_option("--model", opts->model, "Model file written by `rareforge fit`")->required();
  sub->add_option("--n,-n", opts->n, "Rows to draw")->required()->check(CLI::PositiveNumber);
  sub->add_option("--class", opts->cls,
                  "Class (target value) of every row; default: the training class proportions");
  sub->add_option("--where", opts->where, "COL=VALUE: every row has this categorical value (ctgan)")
      ->delimiter(',');
  sub->add_option("--out,-o", opts->out, "Output table (.csv, .h5, .hdf5)")->required();
  opts->run.add_to(sub, true);
  sub->callback([opts] {
    const Context ctx = opts->run.context();
    set_quiet(ctx.quiet);
    format_from_path(opts->out, "--out");
    const CheckpointHeader h = read_checkpoint_header(opts->model);
    Conditions where;
    for (const auto& w : opts->where) {
      const auto eq = w.find('=');
      RF_CHECK_INPUT(eq != std::string::npos && eq > 0,
                     "--where: '{}' must be COLUMN=VALUE (a categorical column and one of its "
                     "values)",
                     w);
      where.emplace_back(w.substr(0, eq), w.substr(eq + 1));
    }
    const int t = h.schema.target_index();
    RF_CHECK_INPUT(t >= 0, "model file '{}' has no target column", opts->model);
    const auto& classes = h.schema.columns[static_cast<size_t>(t)].categories;
    if (!opts->cls.empty()) {
      bool known = false;
      std::string names;
      for (const auto& c : classes) {
        known = known || c == opts->cls;
        names += (names.empty() ? "" : ", ") + c;
      }
      RF_CHECK_INPUT(known, "--class: '{}' is not a class of the model; classes: {}", opts->cls,
                     names);
    }
    if (!is_generator(h.spec)) {
      std::string why;
      load_torch_extension(&why);
      RF_THROW_INPUT("model file '{}' holds a '{}' model, which this build cannot load{}",
                     opts->model, h.method, why.empty() ? "" : " (" + why + ")");
    }
    const auto gen = load_generator(opts->model, ctx);
    Table out;
    if (!opts->cls.empty()) {
      out = gen->sample(opts->n, opts->cls, where, ctx);
    } else {
      const auto per_class = proportional_counts(h.class_counts, opts->n);
      bool first = true;
      for (size_t c = 0; c < per_class.size(); ++c) {
        if (per_class[c] == 0) continue;
        Context cctx = ctx;
        cctx.seed = Rng::derive(ctx.seed, streams::kGenerator * 1000003 + c).next();
        Table part = gen->sample(per_class[c], classes[c], where, cctx);
        out = first ? std::move(part) : Table::concat(out, part);
        first = false;
      }
    }
    write_table(out, opts->out);
    if (!ctx.quiet)
      std::fprintf(stderr, "wrote %s: %zu rows from %s\n", opts->out.c_str(), out.n_rows(),
                   gen->spec().c_str());
  });
}

}  // namespace rareforge::cli
