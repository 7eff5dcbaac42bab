#include "tools/arena.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "classifiers/classifier.h"
#include "classifiers/compare.h"
#include "classifiers/importance.h"
#include "classifiers/stats.h"
#include "core/error.h"
#include "core/io.h"
#include "core/make_data.h"
#include "core/progress.h"
#include "core/text.h"
#include "core/version.h"
#include "tools/arena_util.h"
#include "tools/bundle.h"
#include "tools/extension.h"
#include "validation/validate.h"

namespace fs = std::filesystem;

namespace rareforge::arena {

namespace detail {

std::string slug(const std::string& text) {
  std::string s;
  for (char c : text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.';
    s.push_back(ok ? c : '_');
  }
  return s.empty() ? "_" : s;
}

std::string now_iso() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void write_text_atomic(const std::string& path, const std::string& text) {
  AtomicFile f(path);
  {
    std::ofstream o(f.temp_path(), std::ios::binary);
    o << text;
    o.flush();
    if (!o) throw Error(fmt::format("cannot write '{}'", path));
  }
  f.commit();
}

nlohmann::json read_json_file(const std::string& path, bool comments) {
  std::ifstream f(path, std::ios::binary);
  RF_CHECK_INPUT(f.good(), "cannot open '{}': does it exist?", path);
  std::stringstream ss;
  ss << f.rdbuf();
  try {
    return nlohmann::json::parse(ss.str(), nullptr, true, comments);
  } catch (const nlohmann::json::parse_error& e) {
    RF_THROW_INPUT("{}: not valid JSON ({})", path, e.what());
  }
}

nlohmann::json num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }
double get_num(const nlohmann::json& j) {
  return j.is_number() ? j.get<double>() : std::numeric_limits<double>::quiet_NaN();
}

std::string canonical_classifier(const std::string& spec) {
  cli::load_torch_extension_for(parse_method_spec(spec, "classifiers").name);
  return classifiers::make_classifier(spec, "classifiers")->spec();
}

}  // namespace detail

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
using detail::get_num;
using detail::now_iso;
using detail::num;
using detail::read_json_file;
using detail::seconds_since;
using detail::slug;
using detail::write_text_atomic;

const std::string kNone = "none";

bool is_none(const std::string& spec) { return spec == kNone; }

}  // namespace

// --- configuration ------------------------------------------------------------------------------

void ArenaConfig::validate() const {
  RF_CHECK_INPUT(!datasets.empty(),
                 "arena: no data sets (give --data or `datasets` in the config)");
  std::set<std::string> names;
  for (const auto& d : datasets) {
    RF_CHECK_INPUT(!d.source.empty(), "arena: a data set has no path or preset");
    RF_CHECK_INPUT(names.insert(d.name).second,
                   "arena: two data sets are named '{}'; give them distinct `name`s", d.name);
    if (is_data_spec(d.source)) {
      parse_data_spec(d.source, "data set '" + d.name + "'");
    } else {
      // Checked before anything is written, so a typo leaves no output directory behind.
      std::ifstream f(d.source, std::ios::binary);
      RF_CHECK_INPUT(f.good() && !fs::is_directory(d.source),
                     "data set '{}': cannot read '{}': does the file exist?", d.name, d.source);
    }
  }
  RF_CHECK_INPUT(!methods.empty(), "arena: no methods");
  std::set<std::string> seen;
  for (const auto& m : methods) {
    RF_CHECK_INPUT(seen.insert(m).second, "arena: method '{}' is listed twice", m);
    if (!is_none(m)) cli::make_augmenter(m, strategy);  // InputError for a bad spec
  }
  RF_CHECK_INPUT(!classifiers.empty(), "arena: no classifiers");
  for (const auto& c : classifiers) detail::canonical_classifier(c);
  RF_CHECK_INPUT(seeds >= 1 && seeds <= 10000, "arena: seeds = {} must be in 1..10000", seeds);
  RF_CHECK_INPUT(test_share > 0 && test_share < 1, "arena: test_share = {} must be in (0, 1)",
                 test_share);
  classifiers::metric_higher_is_better(primary_metric, "primary_metric");
}

nlohmann::json ArenaConfig::to_json() const {
  nlohmann::json ds = nlohmann::json::array();
  for (const auto& d : datasets)
    ds.push_back({{"name", d.name},
                  {"source", d.source},
                  {"target", d.target},
                  {"categorical", d.categorical}});
  return {{"datasets", ds},
          {"methods", methods},
          {"classifiers", classifiers},
          {"seeds", seeds},
          {"primary_metric", primary_metric},
          {"test_share", test_share},
          {"validation", validation},
          {"preprocess", preprocess},
          {"strategy", strategy},
          {"seed", seed}};
}

namespace {

std::string default_name(const std::string& source) {
  if (is_data_spec(source)) {
    const std::string rest = source.substr(source.find(':') + 1);
    return slug(rest.substr(0, rest.find(',')));
  }
  return slug(fs::path(source).stem().string());
}

}  // namespace

ArenaConfig ArenaConfig::from_json(const nlohmann::json& j, const std::string& what) {
  ArenaConfig c;
  RF_CHECK_INPUT(j.is_object(), "{}: the configuration must be a JSON object", what);
  static const std::set<std::string> known = {
      "datasets",   "methods",    "classifiers", "seeds",    "primary_metric",
      "test_share", "validation", "preprocess",  "strategy", "seed"};
  for (const auto& [k, v] : j.items()) {
    (void)v;
    if (!known.count(k)) {
      std::string list;
      for (const auto& n : known) list += (list.empty() ? "" : ", ") + n;
      RF_THROW_INPUT("{}: unknown key '{}'; valid keys: {}", what, k, list);
    }
  }
  try {
    if (j.contains("datasets")) {
      for (const auto& d : j.at("datasets")) {
        DataSetSpec s;
        if (d.is_string()) {
          s.source = d.get<std::string>();
        } else {
          s.source = d.at("source").get<std::string>();
          s.name = d.value("name", "");
          s.target = d.value("target", "");
          s.categorical = d.value("categorical", std::vector<std::string>{});
        }
        if (s.name.empty()) s.name = default_name(s.source);
        c.datasets.push_back(std::move(s));
      }
    }
    if (j.contains("methods")) c.methods = j.at("methods").get<std::vector<std::string>>();
    if (j.contains("classifiers"))
      c.classifiers = j.at("classifiers").get<std::vector<std::string>>();
    c.seeds = j.value("seeds", c.seeds);
    c.primary_metric = j.value("primary_metric", c.primary_metric);
    c.test_share = j.value("test_share", c.test_share);
    c.validation = j.value("validation", c.validation);
    c.preprocess = j.value("preprocess", c.preprocess);
    c.strategy = j.value("strategy", c.strategy);
    c.seed = j.value("seed", c.seed);
  } catch (const nlohmann::json::exception& e) {
    RF_THROW_INPUT("{}: {}", what, e.what());
  }
  if (std::find(c.methods.begin(), c.methods.end(), kNone) == c.methods.end())
    c.methods.insert(c.methods.begin(), kNone);
  return c;
}

ArenaConfig read_config(const std::string& path) {
  return ArenaConfig::from_json(read_json_file(path, true), "config '" + path + "'");
}

std::vector<Cell> enumerate_cells(const ArenaConfig& config) {
  std::vector<Cell> cells;
  for (size_t d = 0; d < config.datasets.size(); ++d)
    for (size_t m = 0; m < config.methods.size(); ++m)
      for (int s = 1; s <= config.seeds; ++s) {
        Cell c;
        c.index = cells.size();
        c.dataset = d;
        c.method = m;
        c.seed = s;
        c.id =
            fmt::format("{}__{}__s{}", slug(config.datasets[d].name), slug(config.methods[m]), s);
        cells.push_back(std::move(c));
      }
  return cells;
}

void parse_shard(const std::string& text, int* k, int* n) {
  const auto slash = text.find('/');
  int a = 0, b = 0;
  bool ok = slash != std::string::npos;
  if (ok) {
    try {
      size_t pa = 0, pb = 0;
      a = std::stoi(text.substr(0, slash), &pa);
      b = std::stoi(text.substr(slash + 1), &pb);
      ok = pa == slash && pb == text.size() - slash - 1;
    } catch (const std::exception&) {
      ok = false;
    }
  }
  RF_CHECK_INPUT(ok && b >= 1 && a >= 1 && a <= b,
                 "--shard: '{}' must be K/N with 1 <= K <= N (e.g. 2/8)", text);
  *k = a;
  *n = b;
}

// --- one cell -----------------------------------------------------------------------------------

namespace {

Table load_dataset(const DataSetSpec& d, const ArenaConfig& cfg, const Context& ctx) {
  if (is_data_spec(d.source)) {
    Context c = ctx;
    c.seed = cfg.seed;
    return make_rare_event_data(parse_data_spec(d.source, "data set '" + d.name + "'"), c);
  }
  CsvOptions o;
  o.target = d.target;
  o.categorical = d.categorical;
  o.threads = ctx.threads;
  Table t = read_table(d.source, o);
  RF_CHECK_INPUT(t.has_target(), "{}: no target column", d.source);
  return t;
}

/// The few validation numbers the leaderboard shows (NaN when absent), as the report's checks
/// give them: fidelity from "matched" when the synthetic rows have fewer classes than the
/// training rows (an over-sampler's minority rows), else from "overall"; privacy from "overall".
nlohmann::json validation_summary(const nlohmann::json& report) {
  std::map<std::string, double> check;
  double detection = kNaN;  // the lowest of the detectors' scores
  for (const auto& c : report["checks"]) {
    const std::string name = c["name"];
    const double v = get_num(c["value"]);
    check[name] = v;
    if (name.rfind("detection.", 0) == 0 && std::isfinite(v))
      detection = std::isfinite(detection) ? std::min(detection, v) : v;
  }
  auto at = [&](const char* name) {
    const auto it = check.find(name);
    return it == check.end() ? kNaN : it->second;
  };
  return {{"quality", num(at("quality.overall"))},
          {"detection_score", num(detection)},
          {"mmd2", num(at("mmd.mmd2"))},
          {"precision", num(at("prdc.precision"))},
          {"coverage", num(at("prdc.coverage"))},
          {"dcr_baseline_protection", num(at("privacy.dcr.baseline_protection"))},
          {"exact_duplicates", num(at("privacy.duplicates.exact_share"))}};
}

nlohmann::json run_cell(const ArenaConfig& cfg, const Cell& cell, const Table& data,
                        const Context& base, const std::string& run_id) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string& spec = cfg.methods[cell.method];
  nlohmann::json out = {{"format", "rareforge.arena.cell"},
                        {"version", 1},
                        {"run_id", run_id},
                        {"id", cell.id},
                        {"index", cell.index},
                        {"dataset", cfg.datasets[cell.dataset].name},
                        {"method", spec},
                        {"seed", cell.seed},
                        {"started", now_iso()}};
  double augment_seconds = 0;
  Table real_train, synthetic;
  try {
    classifiers::CompareOptions opt;
    opt.classifiers = cfg.classifiers;
    opt.seeds = 1;
    opt.test_share = cfg.test_share;
    opt.primary_metric = cfg.primary_metric;
    opt.preprocess = cfg.preprocess;
    opt.method = spec;
    // The baseline arm is the same for every method of a seed: the "none" cell's augmented arm
    // (trained on the unchanged rows) is it, so no cell trains it twice.
    opt.train_baseline = false;
    cli::Augmenter aug;
    if (!is_none(spec)) aug = cli::make_augmenter(spec, cfg.strategy);
    opt.augment = [&](const Table& train, const Context& c) {
      const auto a0 = std::chrono::steady_clock::now();
      Table result = aug ? aug(train, c) : train;
      augment_seconds = seconds_since(a0);
      real_train = train;
      std::vector<size_t> rows;
      const auto& prov = result.provenance();
      for (size_t i = 0; i < result.n_rows() && !prov.empty(); ++i)
        if (prov.synthetic[i]) rows.push_back(i);
      synthetic = result.select(rows);
      return result;
    };
    Context ctx = base;
    ctx.quiet = true;
    // run_comparison's seed s = 1 runs with ctx.seed + 1: the cell's seed is cfg.seed + s.
    ctx.seed = cfg.seed + static_cast<uint64_t>(cell.seed) - 1;
    const classifiers::CompareResult r = classifiers::run_comparison(data, nullptr, opt, ctx);
    const auto& run = r.seeds.at(0);
    out["rows"] = {{"train", run.n_train},
                   {"augmented", run.n_augmented},
                   {"synthetic", run.n_synthetic},
                   {"test", run.n_test}};
    out["primary_description"] = r.primary_description;
    nlohmann::json cls = nlohmann::json::array();
    for (const auto& cc : r.classifiers) {
      nlohmann::json a = nlohmann::json::object();
      for (const auto& m : cc.metrics) a[m.name] = num(m.augmented.at(0));
      cls.push_back({{"name", cc.name}, {"spec", cc.spec}, {"augmented", a}});
    }
    out["classifiers"] = cls;
    out["validation"] = nullptr;
    if (cfg.validation && synthetic.n_rows() > 0) {
      validation::ValidateOptions vo;
      // A light report per cell: one detector, a small permutation test and subsamples keep a
      // cell to seconds; `rareforge validate` gives the full one.
      vo.detectors = {"logreg"};
      vo.permutations = 20;
      vo.perm_rows = 500;
      vo.detection_rows = 5000;
      vo.pairwise_rows = 1000;
      vo.random_rows = 2000;
      vo.per_class = false;
      vo.list_limit = 0;
      Context vc = ctx;
      vc.seed = cfg.seed + static_cast<uint64_t>(cell.seed);
      const auto v0 = std::chrono::steady_clock::now();
      const nlohmann::json report = validation::validate(real_train, synthetic, nullptr, vo, vc);
      out["validation"] = validation_summary(report);
      out["validation"]["seconds"] = seconds_since(v0);
    }
    out["status"] = "ok";
  } catch (const Error& e) {
    out["status"] = "failed";
    out["error"] = e.what();
  } catch (const std::bad_alloc&) {
    out["status"] = "failed";
    out["error"] = "out of memory";
  } catch (const std::exception& e) {
    out["status"] = "failed";
    out["error"] = e.what();
  }
  out["seconds"] = {{"augment", augment_seconds}, {"total", seconds_since(t0)}};
  out["finished"] = now_iso();
  return out;
}

std::string cells_dir(const std::string& out) { return (fs::path(out) / "cells").string(); }

std::vector<nlohmann::json> read_cells(const std::string& out_dir) {
  std::vector<nlohmann::json> cells;
  const fs::path dir = cells_dir(out_dir);
  if (!fs::exists(dir)) return cells;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    nlohmann::json j = read_json_file(f.string(), false);
    RF_CHECK_INPUT(j.value("format", "") == "rareforge.arena.cell", "{}: not an arena cell file",
                   f.string());
    cells.push_back(std::move(j));
  }
  std::sort(cells.begin(), cells.end(), [](const auto& a, const auto& b) {
    return a.at("index").template get<size_t>() < b.at("index").template get<size_t>();
  });
  return cells;
}

std::string config_path(const std::string& out) { return (fs::path(out) / "arena.json").string(); }

}  // namespace

// --- outputs ------------------------------------------------------------------------------------

namespace {

/// Table of text and number columns, written as CSV and HDF5 through core/io.h.
struct SheetBuilder {
  std::vector<std::string> names;
  std::vector<bool> numeric;
  std::vector<std::vector<std::string>> text;
  std::vector<std::vector<double>> nums;

  size_t col(const std::string& name, bool is_num) {
    for (size_t i = 0; i < names.size(); ++i)
      if (names[i] == name) return i;
    names.push_back(name);
    numeric.push_back(is_num);
    text.emplace_back();
    nums.emplace_back();
    return names.size() - 1;
  }
  size_t rows = 0;
  std::map<size_t, std::string> row_text;
  std::map<size_t, double> row_num;
  void set(const std::string& name, const std::string& v) { row_text[col(name, false)] = v; }
  void set(const std::string& name, double v) { row_num[col(name, true)] = v; }
  void end_row() {
    for (size_t c = 0; c < names.size(); ++c) {
      text[c].resize(rows);
      nums[c].resize(rows, kNaN);
      if (numeric[c]) {
        const auto it = row_num.find(c);
        nums[c].push_back(it == row_num.end() ? kNaN : it->second);
      } else {
        const auto it = row_text.find(c);
        text[c].push_back(it == row_text.end() ? "" : it->second);
      }
    }
    row_text.clear();
    row_num.clear();
    ++rows;
  }
  Table table() const {
    Table t;
    for (size_t c = 0; c < names.size(); ++c) {
      if (numeric[c]) {
        std::vector<double> v = nums[c];
        v.resize(rows, kNaN);
        t.add_column(Column::numeric(names[c], std::move(v)));
      } else {
        std::vector<std::string> cats;
        std::map<std::string, int32_t> index;
        std::vector<int32_t> codes;
        std::vector<std::string> v = text[c];
        v.resize(rows);
        for (const auto& s : v) {
          auto [it, fresh] = index.emplace(s, static_cast<int32_t>(cats.size()));
          if (fresh) cats.push_back(s);
          codes.push_back(it->second);
        }
        t.add_column(Column::categorical(names[c], std::move(cats), std::move(codes)));
      }
    }
    return t;
  }
};

std::string fmt_num(double v, int digits = 4) {
  return std::isfinite(v) ? fmt::format("{:.{}f}", v, digits) : "–";
}

std::string fmt_p(double p) {
  if (!std::isfinite(p)) return "–";
  return p < 1e-4 ? fmt::format("{:.1e}", p) : fmt::format("{:.4f}", p);
}

struct Row {
  std::string dataset, method, classifier;
  std::vector<double> augmented, baseline;  ///< primary metric, per seed (paired by seed)
  stats::Summary aug_summary, base_summary;
  double diff = kNaN, diff_std = kNaN, p_t = kNaN, p_w = kNaN;
  double detection = kNaN, mmd2 = kNaN, dcr = kNaN, quality = kNaN;
  double augment_seconds = kNaN, total_seconds = kNaN;
  int failed = 0;
  double rank = kNaN;
};

double mean_of(const std::vector<double>& v) {
  double s = 0;
  size_t n = 0;
  for (double x : v)
    if (std::isfinite(x)) {
      s += x;
      ++n;
    }
  return n ? s / static_cast<double>(n) : kNaN;
}

/// Average ranks (1 = best), ties share the mean of their positions; NaN values rank last.
std::vector<double> ranks(const std::vector<double>& score, bool higher_better) {
  std::vector<size_t> order(score.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  auto key = [&](size_t i) {
    const double v = score[i];
    if (!std::isfinite(v)) return std::numeric_limits<double>::infinity();
    return higher_better ? -v : v;
  };
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key(a) < key(b); });
  std::vector<double> r(score.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && key(order[j + 1]) == key(order[i])) ++j;
    for (size_t k = i; k <= j; ++k) r[order[k]] = (static_cast<double>(i + j) / 2.0) + 1.0;
    i = j + 1;
  }
  return r;
}

}  // namespace

std::string rebuild_outputs(const std::string& out_dir) {
  const ArenaConfig cfg = ArenaConfig::from_json(
      read_json_file(config_path(out_dir), false)["config"], config_path(out_dir));
  const std::vector<nlohmann::json> cells = read_cells(out_dir);
  const std::string& primary = cfg.primary_metric;
  const bool higher = classifiers::metric_higher_is_better(primary, "primary_metric");

  // Baseline scores per (data set, seed, classifier spec): the "none" cell's (see run_cell).
  std::map<std::tuple<std::string, int, std::string>, nlohmann::json> baseline;
  for (const auto& c : cells)
    if (c.value("method", "") == kNone && c.value("status", "") == "ok")
      for (const auto& cl : c["classifiers"])
        baseline[{c.value("dataset", ""), c["seed"].get<int>(), cl.value("spec", "")}] =
            cl["augmented"];
  auto baseline_of = [&](const nlohmann::json& c,
                         const std::string& spec) -> const nlohmann::json* {
    const auto it = baseline.find({c.value("dataset", ""), c["seed"].get<int>(), spec});
    return it == baseline.end() ? nullptr : &it->second;
  };

  // Run log: one row per cell x classifier (a failed cell: one row with its error).
  SheetBuilder log;
  for (const auto& c : cells) {
    auto common = [&] {
      log.set("run_id", c.value("run_id", ""));
      log.set("timestamp", c.value("finished", ""));
      log.set("cell", c.value("id", ""));
      log.set("dataset", c.value("dataset", ""));
      log.set("seed", get_num(c["seed"]));
      log.set("method", c.value("method", ""));
      log.set("status", c.value("status", ""));
      log.set("error", c.value("error", ""));
      log.set("augment_seconds", get_num(c["seconds"]["augment"]));
      log.set("cell_seconds", get_num(c["seconds"]["total"]));
      if (c.contains("rows"))
        for (const char* k : {"train", "augmented", "synthetic", "test"})
          log.set(std::string("rows_") + k, get_num(c["rows"][k]));
      if (c.contains("validation") && c["validation"].is_object())
        for (const auto& [k, v] : c["validation"].items())
          if (k != "seconds") log.set("validation_" + k, get_num(v));
    };
    if (c.value("status", "") != "ok" || !c.contains("classifiers")) {
      common();
      log.set("classifier", "");
      log.end_row();
      continue;
    }
    for (const auto& cl : c["classifiers"]) {
      common();
      log.set("classifier", cl.value("spec", ""));
      const nlohmann::json* b = baseline_of(c, cl.value("spec", ""));
      for (const auto& [k, v] : cl["augmented"].items()) {
        log.set("baseline_" + k, b && b->contains(k) ? get_num((*b)[k]) : kNaN);
        log.set("augmented_" + k, get_num(v));
      }
      log.end_row();
    }
  }
  write_csv(log.table(), (fs::path(out_dir) / "run_log.csv").string());

  // Leaderboard rows: data set x classifier x method, paired by seed.
  std::vector<Row> rows;
  for (const auto& d : cfg.datasets)
    for (const auto& clf : cfg.classifiers) {
      // Baseline per seed: the "none" cell's score (it does not depend on the method).
      const std::string clf_spec = detail::canonical_classifier(clf);
      std::map<int, double> base;
      for (const auto& [key, scores] : baseline)
        if (std::get<0>(key) == d.name && std::get<2>(key) == clf_spec)
          base.emplace(std::get<1>(key), get_num(scores[primary]));
      for (const auto& m : cfg.methods) {
        Row r;
        r.dataset = d.name;
        r.method = m;
        r.classifier = clf;
        std::vector<double> det, mmd, dcr, qual, aug_s, tot_s;
        for (const auto& c : cells) {
          if (c.value("dataset", "") != d.name || c.value("method", "") != m) continue;
          if (c.value("status", "") != "ok") {
            ++r.failed;
            continue;
          }
          for (const auto& cl : c["classifiers"]) {
            if (cl.value("spec", "") != clf_spec) continue;
            const auto b = base.find(c["seed"].get<int>());
            r.augmented.push_back(get_num(cl["augmented"][primary]));
            r.baseline.push_back(b == base.end() ? kNaN : b->second);
          }
          aug_s.push_back(get_num(c["seconds"]["augment"]));
          tot_s.push_back(get_num(c["seconds"]["total"]));
          if (c.contains("validation") && c["validation"].is_object()) {
            det.push_back(get_num(c["validation"]["detection_score"]));
            mmd.push_back(get_num(c["validation"]["mmd2"]));
            dcr.push_back(get_num(c["validation"]["dcr_baseline_protection"]));
            qual.push_back(get_num(c["validation"]["quality"]));
          }
        }
        // Metrics can be NaN (e.g. an AUC with one class in a test split) and a shard may lack
        // the "none" cell: summaries use the finite values, the paired tests the seeds where
        // both arms are finite.
        std::vector<double> a_fin, b_fin, pa, pb;
        for (size_t i = 0; i < r.augmented.size(); ++i) {
          const bool fa = std::isfinite(r.augmented[i]), fb = std::isfinite(r.baseline[i]);
          if (fa) a_fin.push_back(r.augmented[i]);
          if (fb) b_fin.push_back(r.baseline[i]);
          if (fa && fb) {
            pa.push_back(r.augmented[i]);
            pb.push_back(r.baseline[i]);
          }
        }
        if (!a_fin.empty()) r.aug_summary = stats::summarize(a_fin);
        if (!b_fin.empty()) r.base_summary = stats::summarize(b_fin);
        if (pa.size() >= 2 && !is_none(m)) {
          const auto pc = stats::compare_paired(pb, pa);
          r.diff = pc.difference.mean;
          r.diff_std = pc.difference.std;
          r.p_t = pc.t_test.p_value;
          r.p_w = pc.wilcoxon.p_value;
        } else if (pa.size() == 1 && !is_none(m)) {
          r.diff = pa[0] - pb[0];
        }
        r.detection = mean_of(det);
        r.mmd2 = mean_of(mmd);
        r.dcr = mean_of(dcr);
        r.quality = mean_of(qual);
        r.augment_seconds = mean_of(aug_s);
        r.total_seconds = mean_of(tot_s);
        rows.push_back(std::move(r));
      }
    }
  // Ranks within each (data set, classifier) group.
  const size_t M = cfg.methods.size();
  for (size_t g = 0; g + M <= rows.size(); g += M) {
    std::vector<double> score(M);
    for (size_t i = 0; i < M; ++i) score[i] = rows[g + i].aug_summary.mean;
    const auto rk = ranks(score, higher);
    for (size_t i = 0; i < M; ++i) rows[g + i].rank = rk[i];
  }
  std::map<std::string, std::vector<double>> method_ranks;
  for (const auto& r : rows) method_ranks[r.method].push_back(r.rank);

  SheetBuilder lb;
  for (const auto& r : rows) {
    lb.set("dataset", r.dataset);
    lb.set("classifier", r.classifier);
    lb.set("method", r.method);
    lb.set("rank", r.rank);
    lb.set("seeds", static_cast<double>(r.augmented.size()));
    lb.set("failed_cells", static_cast<double>(r.failed));
    lb.set(primary + "_mean", r.aug_summary.mean);
    lb.set(primary + "_std", r.aug_summary.std);
    lb.set("baseline_" + primary + "_mean", r.base_summary.mean);
    lb.set("difference_mean", r.diff);
    lb.set("difference_std", r.diff_std);
    lb.set("p_ttest", r.p_t);
    lb.set("p_wilcoxon", r.p_w);
    lb.set("detection_score", r.detection);
    lb.set("mmd2", r.mmd2);
    lb.set("dcr_baseline_protection", r.dcr);
    lb.set("quality", r.quality);
    lb.set("augment_seconds", r.augment_seconds);
    lb.set("cell_seconds", r.total_seconds);
    lb.end_row();
  }
  const Table lt = lb.table();
  write_csv(lt, (fs::path(out_dir) / "leaderboard.csv").string());
  write_hdf5(lt, (fs::path(out_dir) / "leaderboard.h5").string());

  // Markdown.
  std::string md = "# rareforge arena leaderboard\n\n";
  std::string desc;
  for (const auto& c : cells)
    if (c.contains("primary_description")) {
      desc = c["primary_description"].get<std::string>();
      break;
    }
  md += fmt::format(
      "Primary metric: **{}**{} ({} is better), mean ± std over seeds on the frozen test split "
      "of each seed. Δ = augmented − no augmentation, paired by seed; p-values: paired t-test "
      "and Wilcoxon signed-rank. Validation: detection score (1 = indistinguishable), MMD², DCR "
      "baseline protection, on the synthetic rows of each cell.\n\n",
      primary, desc.empty() ? "" : " — " + desc, higher ? "higher" : "lower");
  size_t n_ok = 0, n_failed = 0;
  for (const auto& c : cells) (c.value("status", "") == "ok" ? n_ok : n_failed)++;
  md += fmt::format("Cells: {} finished, {} failed, of {} in the grid.\n\n", n_ok, n_failed,
                    enumerate_cells(cfg).size());
  for (size_t g = 0; g + M <= rows.size(); g += M) {
    md += fmt::format("## {} · {}\n\n", rows[g].dataset, rows[g].classifier);
    md += "| rank | method | " + primary +
          " | Δ vs none | p (t) | p (Wilcoxon) | detection | MMD² | DCR prot. | augment s |\n";
    md += "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    std::vector<size_t> order(M);
    for (size_t i = 0; i < M; ++i) order[i] = g + i;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return rows[a].rank < rows[b].rank; });
    for (size_t i : order) {
      const Row& r = rows[i];
      md += fmt::format("| {} | {}{} | {} ± {} | {} | {} | {} | {} | {} | {} | {} |\n",
                        fmt_num(r.rank, 1), r.method,
                        r.failed ? fmt::format(" ({} failed)", r.failed) : "",
                        fmt_num(r.aug_summary.mean), fmt_num(r.aug_summary.std),
                        is_none(r.method) ? "–" : fmt_num(r.diff), fmt_p(r.p_t), fmt_p(r.p_w),
                        fmt_num(r.detection, 3), fmt_num(r.mmd2, 4), fmt_num(r.dcr, 3),
                        fmt_num(r.augment_seconds, 2));
    }
    md += "\n";
  }
  md +=
      "## Overall (mean rank over data sets and classifiers)\n\n| method | mean rank "
      "|\n|---|---:|\n";
  std::vector<std::pair<double, std::string>> overall;
  for (const auto& m : cfg.methods) overall.emplace_back(mean_of(method_ranks[m]), m);
  std::stable_sort(overall.begin(), overall.end());
  nlohmann::json ranking = nlohmann::json::array();
  for (const auto& [rk, m] : overall) {
    md += fmt::format("| {} | {} |\n", m, fmt_num(rk, 2));
    ranking.push_back({{"method", m}, {"mean_rank", num(rk)}});
  }
  write_text_atomic((fs::path(out_dir) / "leaderboard.md").string(), md);
  const nlohmann::json summary = {{"format", "rareforge.arena.summary"},
                                  {"version", 1},
                                  {"primary_metric", primary},
                                  {"higher_is_better", higher},
                                  {"cells_ok", n_ok},
                                  {"cells_failed", n_failed},
                                  {"cells_in_grid", enumerate_cells(cfg).size()},
                                  {"overall", ranking}};
  write_text_atomic((fs::path(out_dir) / "summary.json").string(), summary.dump(2) + "\n");
  return md;
}

// --- run ---------------------------------------------------------------------------------------

int run_arena(const ArenaConfig& config, const RunOptions& opt, const Context& ctx) {
  config.validate();
  RF_CHECK_INPUT(!opt.out_dir.empty(), "arena: --out is required");
  RF_CHECK_INPUT(opt.shard_n >= 1 && opt.shard_k >= 1 && opt.shard_k <= opt.shard_n,
                 "--shard: {}/{} must be K/N with 1 <= K <= N", opt.shard_k, opt.shard_n);
  const fs::path out(opt.out_dir);
  const nlohmann::json stored = {{"format", "rareforge.arena"},
                                 {"version", 1},
                                 {"rareforge_version", RAREFORGE_VERSION},
                                 {"config", config.to_json()}};
  if (fs::exists(config_path(opt.out_dir))) {
    const nlohmann::json old = read_json_file(config_path(opt.out_dir), false);
    RF_CHECK_INPUT(opt.resume,
                   "arena: '{}' already holds an arena run; add --resume to continue it, or "
                   "choose another --out",
                   opt.out_dir);
    RF_CHECK_INPUT(old.value("config", nlohmann::json()) == stored["config"],
                   "--resume: the configuration differs from the one in '{}'; use the same "
                   "settings or another --out",
                   config_path(opt.out_dir));
  } else {
    std::error_code ec;
    fs::create_directories(out / "cells", ec);
    RF_CHECK_INPUT(!ec, "arena: cannot create '{}': {}", (out / "cells").string(), ec.message());
    write_text_atomic(config_path(opt.out_dir), stored.dump(2) + "\n");
  }
  fs::create_directories(out / "cells");

  const std::vector<Cell> cells = enumerate_cells(config);
  std::set<std::string> done;
  for (const auto& c : read_cells(opt.out_dir)) done.insert(c.value("id", ""));
  std::vector<const Cell*> todo;
  for (const auto& c : cells)
    if (static_cast<int>(c.index % static_cast<size_t>(opt.shard_n)) == opt.shard_k - 1 &&
        !done.count(c.id))
      todo.push_back(&c);

  const std::string run_id = fmt::format("{}-{}", now_iso(), ::getpid());
  if (!ctx.quiet)
    std::fprintf(
        stderr,
        "arena: %zu data set(s) x %zu method(s) x %d seed(s) = %zu cells; %zu to run "
        "here%s\n",
        config.datasets.size(), config.methods.size(), config.seeds, cells.size(), todo.size(),
        opt.shard_n > 1 ? fmt::format(" (shard {}/{})", opt.shard_k, opt.shard_n).c_str() : "");
  Progress progress("arena", todo.size(), "cells", ctx.quiet);
  int failed = 0;
  std::map<size_t, Table> loaded;
  const auto t0 = std::chrono::steady_clock::now();
  size_t finished = 0;
  for (const Cell* cell : todo) {
    nlohmann::json result;
    auto it = loaded.find(cell->dataset);
    if (it == loaded.end()) {
      // Keep one data set in memory at a time (cells are data set-major).
      loaded.clear();
      try {
        it =
            loaded.emplace(cell->dataset, load_dataset(config.datasets[cell->dataset], config, ctx))
                .first;
      } catch (const InputError&) {
        throw;  // a missing or broken data file is the user's to fix: stop with exit 2
      }
    }
    result = run_cell(config, *cell, it->second, ctx, run_id);
    write_text_atomic((out / "cells" / (cell->id + ".json")).string(), result.dump(1) + "\n");
    ++finished;
    const bool ok = result.value("status", "") == "ok";
    if (!ok) ++failed;
    progress.advance();
    if (!ctx.quiet) {
      const double el = seconds_since(t0);
      const double eta =
          el / static_cast<double>(finished) * static_cast<double>(todo.size() - finished);
      std::string headline;
      if (ok && !result["classifiers"].empty()) {
        const auto& cl = result["classifiers"][0];
        headline = fmt::format("{} {} {}", cl.value("name", ""), config.primary_metric,
                               fmt_num(get_num(cl["augmented"][config.primary_metric])));
      } else if (!ok) {
        headline = "FAILED: " + result.value("error", "");
      }
      std::fprintf(stderr, "[%zu/%zu] %s: %s  %.1f s; ETA %s\n", finished, todo.size(),
                   cell->id.c_str(), headline.c_str(), get_num(result["seconds"]["total"]),
                   Progress::format_duration(eta).c_str());
    }
  }
  progress.finish();
  const std::string md = rebuild_outputs(opt.out_dir);
  if (opt.shard_n == 1 && (opt.export_winner || !opt.export_cell.empty())) {
    std::string cell_id = opt.export_cell;
    if (cell_id.empty()) cell_id = winner_cell(config, opt.out_dir);
    if (!cell_id.empty()) {
      const Cell* cell = nullptr;
      for (const auto& c : cells)
        if (c.id == cell_id) cell = &c;
      RF_CHECK_INPUT(cell != nullptr, "--export: no cell '{}' in this arena (see cells/)", cell_id);
      const Table data = load_dataset(config.datasets[cell->dataset], config, ctx);
      export_bundle(config, *cell, data, opt.out_dir, ctx);
    }
  }
  return failed;
}

void merge_arenas(const std::vector<std::string>& dirs, const std::string& out_dir) {
  RF_CHECK_INPUT(!dirs.empty(), "arena merge: give the shard directories to merge");
  nlohmann::json stored;
  std::map<std::string, nlohmann::json> cells;
  for (const auto& d : dirs) {
    const nlohmann::json j = read_json_file(config_path(d), false);
    if (stored.is_null()) {
      stored = j;
    } else {
      RF_CHECK_INPUT(j.value("config", nlohmann::json()) == stored["config"],
                     "arena merge: '{}' ran another configuration than '{}'", d, dirs[0]);
    }
    for (auto& c : read_cells(d)) {
      const std::string id = c.value("id", "");
      const auto it = cells.find(id);
      if (it != cells.end()) {
        // The same cell in two shards (e.g. a rerun): the results must agree.
        RF_CHECK_INPUT(it->second["classifiers"] == c["classifiers"],
                       "arena merge: cell '{}' appears in two directories with different "
                       "results",
                       id);
        continue;
      }
      cells.emplace(id, std::move(c));
    }
  }
  RF_CHECK_INPUT(!fs::exists(config_path(out_dir)) ||
                     read_json_file(config_path(out_dir), false)["config"] == stored["config"],
                 "arena merge: '{}' holds another arena run", out_dir);
  std::error_code ec;
  fs::create_directories(fs::path(out_dir) / "cells", ec);
  RF_CHECK_INPUT(!ec, "arena merge: cannot create '{}': {}", out_dir, ec.message());
  write_text_atomic(config_path(out_dir), stored.dump(2) + "\n");
  for (const auto& [id, c] : cells)
    write_text_atomic((fs::path(out_dir) / "cells" / (id + ".json")).string(), c.dump(1) + "\n");
  rebuild_outputs(out_dir);
}

}  // namespace rareforge::arena
