#include "tools/bundle.h"

#include <openssl/evp.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "classical/sampler.h"
#include "classifiers/classifier.h"
#include "classifiers/metrics.h"
#include "core/error.h"
#include "core/generator.h"
#include "core/io.h"
#include "core/make_data.h"
#include "core/preprocess.h"
#include "core/split.h"
#include "core/version.h"
#include "tools/arena_util.h"
#include "tools/extension.h"

namespace fs = std::filesystem;

namespace rareforge::arena {

using detail::get_num;
using detail::now_iso;
using detail::num;
using detail::read_json_file;
using detail::slug;
using detail::write_text_atomic;

std::string sha256_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  RF_CHECK_INPUT(f.good(), "cannot open '{}' to hash it", path);
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  RF_CHECK(md != nullptr, "EVP_MD_CTX_new failed");
  EVP_DigestInit_ex(md, EVP_sha256(), nullptr);
  std::vector<char> buf(size_t(1) << 20);
  while (f) {
    f.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (f.gcount() > 0) EVP_DigestUpdate(md, buf.data(), static_cast<size_t>(f.gcount()));
  }
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(md, out, &len);
  EVP_MD_CTX_free(md);
  std::string hex;
  for (unsigned i = 0; i < len; ++i) hex += fmt::format("{:02x}", out[i]);
  return hex;
}

std::string winner_cell(const ArenaConfig& config, const std::string& out_dir) {
  const fs::path p = fs::path(out_dir) / "summary.json";
  if (!fs::exists(p)) return "";
  const nlohmann::json s = read_json_file(p.string(), false);
  for (const auto& e : s.at("overall")) {
    const std::string m = e.value("method", "");
    if (m == "none" || !e["mean_rank"].is_number()) continue;
    for (const auto& c : enumerate_cells(config))
      if (c.dataset == 0 && c.seed == 1 && config.methods[c.method] == m) {
        // Only a cell that finished can be exported.
        const fs::path cell = fs::path(out_dir) / "cells" / (c.id + ".json");
        if (fs::exists(cell) && read_json_file(cell.string(), false).value("status", "") == "ok")
          return c.id;
      }
  }
  return "";
}

namespace {

/// The leaderboard rows (CSV) of one data set and method, as JSON objects keyed by column.
std::vector<nlohmann::json> leaderboard_rows(const std::string& out_dir, const std::string& dataset,
                                             const std::string& method) {
  std::vector<nlohmann::json> rows;
  const fs::path p = fs::path(out_dir) / "leaderboard.csv";
  if (!fs::exists(p)) return rows;
  CsvOptions o;
  o.target = "-";  // a sheet of results, not a classification table
  const Table t = read_csv(p.string(), o);
  for (size_t i = 0; i < t.n_rows(); ++i) {
    nlohmann::json r;
    for (const auto& c : t.columns())
      r[c.name()] = c.is_numeric() ? num(c.num[i]) : nlohmann::json(c.cell_text(i));
    if (r["dataset"] == dataset && r["method"] == method) rows.push_back(std::move(r));
  }
  return rows;
}

std::string fmt4(const nlohmann::json& v) {
  return v.is_number() ? fmt::format("{:.4f}", v.get<double>()) : "–";
}

std::string model_card(const ArenaConfig& cfg, const Cell& cell, const std::string& clf_spec,
                       const std::string& model_file, const nlohmann::json& seed_scores,
                       const std::vector<nlohmann::json>& lb, const nlohmann::json& cell_json,
                       const Table& data) {
  const auto& ds = cfg.datasets[cell.dataset];
  const std::string& method = cfg.methods[cell.method];
  const std::string& primary = cfg.primary_metric;
  std::string md = fmt::format("# Model card: {} trained on {} augmented with {}\n\n",
                               parse_method_spec(clf_spec).name, ds.name, method);
  md += "## Overview\n\n";
  md += fmt::format(
      "A `{}` classifier trained by rareforge {} on the training split (seed {}) of `{}`, "
      "after that split was augmented with `{}`. Model file: `models/{}`. Produced by the arena "
      "run in this directory on {}.\n\n",
      clf_spec, RAREFORGE_VERSION, cell.seed, ds.source, method, model_file, now_iso());
  md += "## Intended use\n\n";
  md += fmt::format(
      "Scoring rows with the columns of `{}` (target `{}`) for the classes {}. It is a "
      "benchmark artefact: check the metrics below against your own costs of errors before "
      "deploying it, and re-validate on recent data.\n\n",
      ds.name, data.target(), [&] {
        std::string s;
        for (const auto& c : data.class_names()) s += (s.empty() ? "" : ", ") + ("`" + c + "`");
        return s;
      }());
  md += "## Data and preprocessing\n\n";
  std::string counts;
  const auto cc = data.class_counts();
  for (size_t c = 0; c < cc.size(); ++c)
    counts += fmt::format("{}{}: {}", c ? ", " : "", data.class_names()[c], cc[c]);
  md += fmt::format(
      "- Source: `{}` ({} rows, {} columns; classes {}).\n- Split: stratified, test share {}, "
      "seed {} (the test rows were never augmented or used for fitting).\n- Preprocessing "
      "(fitted on the training rows only): `{}` — its fitted state is "
      "`models/preprocessor.json`.\n- Rows: {} train, {} after augmentation ({} synthetic), {} "
      "test.\n\n",
      ds.source, data.n_rows(), data.n_cols(), counts, cfg.test_share, cfg.seed + cell.seed,
      cfg.preprocess, get_num(cell_json["rows"]["train"]), get_num(cell_json["rows"]["augmented"]),
      get_num(cell_json["rows"]["synthetic"]), get_num(cell_json["rows"]["test"]));
  md += "## Augmentation\n\n";
  md += fmt::format(
      "Method `{}` with sampling strategy `{}`; synthetic rows carry provenance in "
      "`datasets/augmented_train.h5` (`/table/provenance`).\n\n",
      method, cfg.strategy);
  md += "## Metrics\n\n";
  md += fmt::format(
      "This model on the test split of seed {}:\n\n| metric | baseline (no "
      "augmentation) | augmented |\n|---|---:|---:|\n",
      cell.seed);
  for (const auto& [k, v] : seed_scores["augmented"].items())
    md += fmt::format("| {} | {} | {} |\n", k, fmt4(seed_scores["baseline"][k]), fmt4(v));
  md += fmt::format("\nAcross the arena's {} seeds ({}):\n\n", cfg.seeds, primary);
  for (const auto& r : lb)
    if (r.value("classifier", "") == clf_spec ||
        detail::canonical_classifier(r.value("classifier", "")) == clf_spec) {
      md += fmt::format(
          "- augmented {} ± {} vs baseline {}; difference {} ± {} (paired t-test p = {}, "
          "Wilcoxon p = {}); rank {} of {} methods.\n",
          fmt4(r[primary + "_mean"]), fmt4(r[primary + "_std"]),
          fmt4(r["baseline_" + primary + "_mean"]), fmt4(r["difference_mean"]),
          fmt4(r["difference_std"]), fmt4(r["p_ttest"]), fmt4(r["p_wilcoxon"]),
          r["rank"].is_number() ? fmt::format("{:g}", r["rank"].get<double>()) : "–",
          cfg.methods.size());
    }
  md += "\n## Validation of the synthetic rows\n\n";
  if (cell_json.contains("validation") && cell_json["validation"].is_object()) {
    for (const auto& [k, v] : cell_json["validation"].items())
      if (k != "seconds") md += fmt::format("- {}: {}\n", k, fmt4(v));
    md +=
        "\nThe full report: `rareforge validate --real datasets/train.h5 --synthetic "
        "datasets/augmented_train.h5 --out report.json` (after preprocessing both alike).\n\n";
  } else {
    md += "No synthetic rows (or validation was off).\n\n";
  }
  md += "## Limitations\n\n";
  md +=
      "- Scores come from a held-out split of the same source; they say nothing about drift or "
      "other populations.\n- Synthetic rows can encode the generator's errors; the validation "
      "summary above (detection score, MMD², distance to closest record) bounds how far they "
      "are from the real rows, not whether they are correct.\n- Probabilities are not "
      "recalibrated after augmentation: over-sampling shifts the class prior.\n\n";
  md += "## Sensitive attributes\n\n";
  md +=
      "No sensitive attribute was configured for this arena run, so no subgroup metrics were "
      "computed (`rareforge validate --sensitive COL` reports subgroup shares).\n";
  return md;
}

}  // namespace

void export_bundle(const ArenaConfig& cfg, const Cell& cell, const Table& data,
                   const std::string& out_dir, const Context& ctx) {
  const fs::path final_dir = fs::path(out_dir) / "bundle";
  const fs::path tmp = fs::path(out_dir) / ".bundle.tmp";
  std::error_code ec;
  fs::remove_all(tmp, ec);
  for (const char* sub : {"datasets", "models", "model_cards"}) fs::create_directories(tmp / sub);
  const nlohmann::json cell_json =
      read_json_file((fs::path(out_dir) / "cells" / (cell.id + ".json")).string(), false);
  RF_CHECK_INPUT(cell_json.value("status", "") == "ok",
                 "--export: cell '{}' failed ({}); export a finished cell", cell.id,
                 cell_json.value("error", ""));
  const std::string& method = cfg.methods[cell.method];

  // The cell's protocol, as classifiers/compare.cpp runs seed s = 1 with ctx.seed = cfg.seed +
  // cell.seed - 1: seed context cfg.seed + cell.seed, split stream kSplit.
  Context cs = ctx;
  cs.quiet = true;
  cs.seed = cfg.seed + static_cast<uint64_t>(cell.seed);
  SplitOptions so;
  so.test_share = cfg.test_share;
  Rng rng = cs.rng(streams::kSplit);
  const SplitIndices idx = stratified_split(data, so, rng);
  const Table train_s = data.select(idx.train);
  const Table test_s = data.select(idx.test);
  Preprocessor prep(PreprocessSpec::parse(cfg.preprocess), ctx.n_threads());
  prep.fit(train_s);
  const Table train_t = prep.transform(train_s);
  Table aug = train_t;
  nlohmann::json generator_file = nullptr;
  if (method != "none") {
    if (cli::is_generator(method)) {
      auto gen = make_generator(method);
      aug = resample_with_generator(*gen, train_t, cfg.strategy, std::nullopt, cs);
      gen->save((tmp / "models" / "generator.rfm").string());
      generator_file = "models/generator.rfm";
    } else {
      aug = cli::make_augmenter(method, cfg.strategy)(train_t, cs);
    }
  }
  write_hdf5(train_s, (tmp / "datasets" / "train.h5").string());
  write_hdf5(aug, (tmp / "datasets" / "augmented_train.h5").string());
  write_hdf5(test_s, (tmp / "datasets" / "test.h5").string());
  {
    nlohmann::json pj;
    to_json(pj, prep);
    write_text_atomic((tmp / "models" / "preprocessor.json").string(), pj.dump(1) + "\n");
  }

  const MatrixRM X_base = prep.encode(train_t);
  const MatrixRM X_aug = prep.encode(aug);
  const MatrixRM X_test = prep.transform_encode(test_s);
  const std::vector<int32_t> y_base = train_t.labels();
  const std::vector<int32_t> y_test = test_s.labels();
  // Labels of the augmented table in the training class order (concat may remap categories).
  std::vector<int32_t> y_aug = aug.labels();
  const int K = static_cast<int>(data.n_classes());
  metrics::EvaluateOptions eval;
  if (K == 2) {
    const auto counts = data.class_counts();
    eval.pos_label = counts[1] <= counts[0] ? 1 : 0;
  }
  const auto lb = leaderboard_rows(out_dir, cfg.datasets[cell.dataset].name, method);
  nlohmann::json models = nlohmann::json::array();
  for (const auto& spec : cfg.classifiers) {
    detail::canonical_classifier(spec);  // loads the LibTorch extension for mlp
    nlohmann::json scores = {{"baseline", nlohmann::json::object()},
                             {"augmented", nlohmann::json::object()}};
    std::string file, canonical;
    for (int arm = 0; arm < 2; ++arm) {
      auto clf = classifiers::make_classifier(spec, "classifiers");
      clf->fit(arm == 0 ? X_base : X_aug, arm == 0 ? y_base : y_aug, K, nullptr, cs);
      const auto s = metrics::evaluate(y_test, clf->predict_proba(X_test), eval);
      for (const auto& [k, v] : s.items()) scores[arm == 0 ? "baseline" : "augmented"][k] = num(v);
      if (arm == 1) {
        canonical = clf->spec();
        file = slug(parse_method_spec(spec).name) + ".json";
        clf->save((tmp / "models" / file).string());
      }
    }
    write_text_atomic((tmp / "model_cards" / (slug(parse_method_spec(spec).name) + ".md")).string(),
                      model_card(cfg, cell, canonical, file, scores, lb, cell_json, data));
    models.push_back({{"classifier", canonical},
                      {"file", "models/" + file},
                      {"card", "model_cards/" + slug(parse_method_spec(spec).name) + ".md"},
                      {"test_scores", scores}});
  }

  nlohmann::json inputs = nlohmann::json::array();
  for (const auto& d : cfg.datasets) {
    nlohmann::json i = {{"name", d.name}, {"source", d.source}};
    if (is_data_spec(d.source))
      i["generated"] = "rareforge make-data, seed " + std::to_string(cfg.seed);
    else
      i["sha256"] = sha256_file(d.source);
    inputs.push_back(std::move(i));
  }
  const nlohmann::json pipeline = {
      {"format", "rareforge.pipeline"},
      {"version", 1},
      {"rareforge_version", RAREFORGE_VERSION},
      {"created", now_iso()},
      {"cell", cell.id},
      {"dataset", cfg.datasets[cell.dataset].name},
      {"method", method},
      {"seed", cs.seed},
      {"split", {{"test_share", cfg.test_share}, {"stream", "kSplit"}}},
      {"preprocess", cfg.preprocess},
      {"strategy", cfg.strategy},
      {"classifiers", cfg.classifiers},
      {"generator_checkpoint", generator_file},
      {"models", models},
      {"inputs", inputs},
      {"arena_config", cfg.to_json()},
      {"reproduce",
       fmt::format("rareforge arena --config <this arena's arena.json config> --out DIR "
                   "--export {}",
                   cell.id)}};
  write_text_atomic((tmp / "pipeline_config.json").string(), pipeline.dump(2) + "\n");

  std::string readme = fmt::format(
      "# rareforge bundle: {}\n\nData set `{}`, augmentation `{}`, seed {} — the arena cell "
      "`{}`{}.\n\n| path | what |\n|---|---|\n"
      "| `datasets/train.h5` | the original training split (raw columns) |\n"
      "| `datasets/augmented_train.h5` | the training split after preprocessing, plus the "
      "synthetic rows (provenance in `/table/provenance`) |\n"
      "| `datasets/test.h5` | the frozen test split (raw columns; never augmented or fitted on) "
      "|\n"
      "| `models/preprocessor.json` | the preprocessing fitted on the training split |\n"
      "{}"
      "| `models/*.json` | the classifiers trained on the augmented split |\n"
      "| `model_cards/*.md` | one card per classifier: use, data, method, metrics, limits |\n"
      "| `pipeline_config.json` | versions, seeds, every parameter, SHA-256 of the inputs |\n\n"
      "All tables are in rareforge's HDF5 layout (docs/FORMAT.md); in Python: "
      "`h5py.File('datasets/test.h5')['table/columns']`. Reproduce with the command in "
      "`pipeline_config.json` (`reproduce`).\n",
      cell.id, cfg.datasets[cell.dataset].name, method, cs.seed, cell.id,
      method == "none" ? "" : " (the arena's best method on this data set)",
      generator_file.is_null() ? ""
                               : "| `models/generator.rfm` | the generator checkpoint "
                                 "(`rareforge sample --model`) |\n");
  write_text_atomic((tmp / "README.md").string(), readme);

  fs::remove_all(final_dir, ec);
  fs::rename(tmp, final_dir, ec);
  RF_CHECK(!ec, "cannot move the bundle into place at '{}': {}", final_dir.string(), ec.message());
}

}  // namespace rareforge::arena
