#include "classifiers/compare.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "classifiers/classifier.h"
#include "classifiers/importance.h"
#include "core/error.h"
#include "core/hdf5_util.h"
#include "core/io.h"
#include "core/preprocess.h"
#include "core/progress.h"
#include "core/split.h"
#include "core/text.h"
#include "core/version.h"

namespace rareforge::classifiers {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// Labels of `t` as codes into `classes` (matched by class name); InputError naming `what`.
std::vector<int32_t> labels_in(const Table& t, const std::vector<std::string>& classes,
                               const std::string& what) {
  RF_CHECK_INPUT(t.has_target(), "{}: the table has no target column", what);
  const auto& names = t.class_names();
  if (names == classes) return t.labels();
  std::vector<int32_t> map(names.size(), -1);
  for (size_t c = 0; c < names.size(); ++c) {
    auto it = std::find(classes.begin(), classes.end(), names[c]);
    if (it != classes.end()) map[c] = static_cast<int32_t>(it - classes.begin());
  }
  std::vector<int32_t> out(t.n_rows());
  const auto& y = t.labels();
  for (size_t i = 0; i < y.size(); ++i) {
    const int32_t m = map[static_cast<size_t>(y[i])];
    if (m < 0) {
      std::string list;
      for (const auto& c : classes) list += (list.empty() ? "" : ", ") + c;
      RF_THROW_INPUT("{}: class '{}' (row {}) is not a class of the training data ({})", what,
                     names[static_cast<size_t>(y[i])], i + 1, list);
    }
    out[i] = m;
  }
  return out;
}

std::vector<int64_t> count_labels(const std::vector<int32_t>& y, size_t k) {
  std::vector<int64_t> c(k, 0);
  for (int32_t v : y) ++c[static_cast<size_t>(v)];
  return c;
}

std::vector<int32_t> pick(const std::vector<int32_t>& y, const std::vector<size_t>& rows) {
  std::vector<int32_t> out(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) out[i] = y[rows[i]];
  return out;
}

/// Encoded columns of each original feature (a one-hot block, or one column).
std::vector<std::vector<size_t>> feature_groups(const Preprocessor& prep) {
  std::vector<std::vector<size_t>> groups;
  size_t col = 0;
  const bool onehot = prep.spec().encode == PreprocessSpec::Encode::kOneHot;
  for (const auto& f : prep.columns()) {
    const size_t width = (f.kind == ColumnKind::kCategorical && onehot) ? f.categories.size() : 1;
    std::vector<size_t> g;
    for (size_t q = 0; q < width; ++q) g.push_back(col++);
    groups.push_back(std::move(g));
  }
  RF_CHECK(col == prep.feature_names().size(), "feature groups cover {} of {} encoded columns", col,
           prep.feature_names().size());
  return groups;
}

std::vector<double> sum_groups(const std::vector<double>& v,
                               const std::vector<std::vector<size_t>>& groups) {
  std::vector<double> out(groups.size(), 0.0);
  for (size_t g = 0; g < groups.size(); ++g)
    for (size_t j : groups[g]) out[g] += j < v.size() ? v[j] : 0.0;
  return out;
}

void summarize_runs(ImportanceRuns& r, int top_k) {
  if (r.per_seed.empty()) return;
  const size_t d = r.per_seed[0].size();
  r.mean.assign(d, 0.0);
  r.std.assign(d, kNaN);
  for (size_t j = 0; j < d; ++j) {
    std::vector<double> v;
    for (const auto& s : r.per_seed) v.push_back(s[j]);
    const auto sm = stats::summarize(v);
    r.mean[j] = sm.mean;
    r.std[j] = sm.std;
  }
  r.top_k_frequency = top_k_frequency(r.per_seed, top_k);
}

std::vector<double> mean_rows(const std::vector<std::vector<double>>& rows) {
  if (rows.empty()) return {};
  std::vector<double> m(rows[0].size(), 0.0);
  for (const auto& r : rows)
    for (size_t j = 0; j < m.size(); ++j) m[j] += r[j] / static_cast<double>(rows.size());
  return m;
}

std::string class_list(const std::vector<std::string>& names, const std::vector<int64_t>& counts) {
  std::string s;
  for (size_t c = 0; c < names.size(); ++c)
    if (counts[c] > 0) s += (s.empty() ? "'" : ", '") + names[c] + "'";
  return s.empty() ? "none" : s;
}

}  // namespace

void CompareOptions::validate() const {
  RF_CHECK_INPUT(!classifiers.empty(), "--classifiers: give at least one classifier");
  RF_CHECK_INPUT(seeds >= 1 && seeds <= 100000, "--seeds: {} must be between 1 and 100000", seeds);
  RF_CHECK_INPUT(test_share > 0 && test_share < 1, "--test-share: {} must be in (0, 1)",
                 test_share);
  metric_higher_is_better(primary_metric, "--primary");
  PreprocessSpec::parse(preprocess, "--preprocess").validate("--preprocess");
  RF_CHECK_INPUT(static_cast<bool>(augment) != (augmented != nullptr),
                 "evaluate: give exactly one of --method (an augmentation method) and "
                 "--augmented (a pre-augmented training table)");
  RF_CHECK_INPUT(importance_repeats >= 0, "--importance-repeats: {} must be >= 0",
                 importance_repeats);
  RF_CHECK_INPUT(top_k >= 1, "--top-k: {} must be >= 1", top_k);
}

const MetricComparison& ClassifierComparison::metric(const std::string& name) const {
  for (const auto& m : metrics)
    if (m.name == name) return m;
  throw Error(fmt::format("no metric '{}' in the comparison of {}", name, spec));
}

std::vector<std::string> split_classifier_list(const std::string& text, const std::string& what) {
  std::vector<std::string> out;
  std::string norm = text;
  std::replace(norm.begin(), norm.end(), ';', ',');
  for (const auto& piece : split(norm, ',')) {
    if (piece.empty()) continue;
    const size_t eq = piece.find('='), colon = piece.find(':');
    if (eq != std::string::npos && (colon == std::string::npos || eq < colon)) {
      RF_CHECK_INPUT(!out.empty(), "{}: '{}' is a parameter without a classifier before it", what,
                     piece);
      out.back() += "," + piece;
    } else {
      out.push_back(piece);
    }
  }
  RF_CHECK_INPUT(!out.empty(), "{}: give at least one classifier (see `rareforge classifiers`)",
                 what);
  return out;
}

CompareResult run_comparison(const Table& train, const Table* test, const CompareOptions& opt,
                             const Context& ctx) {
  opt.validate();
  RF_CHECK_INPUT(train.has_target(), "--train: the table has no target column (--target)");
  RF_CHECK_INPUT(test || !opt.augmented,
                 "--augmented needs --test: a pre-augmented table was made from the whole "
                 "training file, so any test split of that file would have leaked into it");
  // Build every classifier once now, so a bad spec fails before any work.
  std::vector<std::string> specs, names, labels;
  for (const auto& s : opt.classifiers) {
    const auto clf = make_classifier(s);
    specs.push_back(clf->spec());
    names.push_back(parse_method_spec(s, "--classifiers").name);
    labels.push_back(trim(s));
  }

  CompareResult res;
  res.mode = test ? "test-file" : "split";
  res.arm = opt.tstr ? "tstr" : "augmented";
  res.method = opt.method;
  res.preprocess = PreprocessSpec::parse(opt.preprocess).str();
  res.test_share = test ? 0.0 : opt.test_share;
  res.primary_metric = opt.primary_metric;
  res.class_names = train.class_names();
  res.class_counts = train.class_counts();
  res.importance_repeats = opt.importance_repeats;
  res.top_k = opt.top_k;
  const size_t K = res.class_names.size();
  RF_CHECK_INPUT(K >= 2, "--train: the target has {} class; a classifier needs two", K);
  for (size_t c = 0; c < K; ++c)
    RF_CHECK_INPUT(res.class_counts[c] > 0,
                   "--train: class '{}' has no rows; every class of the target needs rows",
                   res.class_names[c]);
  res.minority = 0;
  for (size_t c = 1; c < K; ++c)
    if (res.class_counts[c] < res.class_counts[static_cast<size_t>(res.minority)])
      res.minority = static_cast<int32_t>(c);
  res.pos_label = K == 2 ? res.minority : 1;
  res.primary_description = describe_metric(opt.primary_metric, static_cast<int>(K),
                                            res.class_names[static_cast<size_t>(res.minority)]);
  if (opt.primary_metric == "pr_auc" && K == 2) res.primary_description += " (the minority class)";
  for (size_t j : train.feature_indices()) res.features.push_back(train.column(j).name());
  RF_CHECK_INPUT(!res.features.empty(), "--train: the table has no feature columns");

  const std::vector<int32_t>& y_all = train.labels();
  std::vector<int32_t> y_test_file;
  if (test) {
    RF_CHECK_INPUT(test->has_target() && test->target() == train.target(),
                   "--test: the test table's target must be the training target '{}'",
                   train.target());
    y_test_file = labels_in(*test, res.class_names, "--test");
    const auto counts = count_labels(y_test_file, K);
    for (size_t c = 0; c < K; ++c)
      RF_CHECK_INPUT(counts[c] > 0,
                     "--test: class '{}' has no rows in the test table; every class needs test "
                     "rows to be scored",
                     res.class_names[c]);
  }
  metrics::EvaluateOptions eval;
  eval.pos_label = res.pos_label;
  const PreprocessSpec prep_spec = PreprocessSpec::parse(opt.preprocess);

  res.classifiers.resize(specs.size());
  for (size_t m = 0; m < specs.size(); ++m) {
    res.classifiers[m].name = names[m];
    res.classifiers[m].label = labels[m];
    res.classifiers[m].spec = specs[m];
  }
  std::vector<std::vector<std::vector<double>>> model_imp_b(specs.size()),
      model_imp_a(specs.size());

  // Started once the first seed's data are ready, so that an input error found there is the
  // only line on stderr.
  std::optional<Progress> progress;
  for (int s = 1; s <= opt.seeds; ++s) {
    Context cs = ctx;
    cs.seed = ctx.seed + static_cast<uint64_t>(s);
    SeedRun run;
    run.seed = cs.seed;

    // 1. split (or the frozen test table)
    std::vector<int32_t> y_test;
    if (test) {
      run.train_rows.resize(train.n_rows());
      for (size_t i = 0; i < train.n_rows(); ++i) run.train_rows[i] = i;
      run.test_rows.resize(test->n_rows());
      for (size_t i = 0; i < test->n_rows(); ++i) run.test_rows[i] = i;
    } else {
      SplitOptions so;
      so.test_share = opt.test_share;
      Rng rng = cs.rng(streams::kSplit);
      SplitIndices idx = stratified_split(train, so, rng);
      run.train_rows = std::move(idx.train);
      run.test_rows = std::move(idx.test);
    }
    const std::vector<int32_t>& y_test_src = test ? y_test_file : y_all;
    // Copies only for a split; the frozen test mode uses the tables as they are.
    Table train_sel, test_sel;
    if (!test) {
      train_sel = train.select(run.train_rows);
      test_sel = train.select(run.test_rows);
    }
    const Table& train_s = test ? train : train_sel;
    const Table& test_s = test ? *test : test_sel;

    // 2. preprocessing fitted on the original training rows only
    Preprocessor prep(prep_spec, ctx.n_threads());
    prep.fit(train_s);
    std::vector<size_t> kept_train, kept_test;
    const Table train_t = prep.transform(train_s, &kept_train);
    const MatrixRM X_base = prep.encode(train_t);
    const std::vector<int32_t> y_base = pick(pick(y_all, run.train_rows), kept_train);
    const MatrixRM X_test = prep.transform_encode(test_s, &kept_test);
    y_test = pick(pick(y_test_src, run.test_rows), kept_test);
    const auto groups = feature_groups(prep);
    run.n_train = static_cast<int64_t>(y_base.size());
    run.n_test = static_cast<int64_t>(y_test.size());
    run.train_counts = count_labels(y_base, K);
    run.test_counts = count_labels(y_test, K);
    for (size_t c = 0; c < K; ++c)
      RF_CHECK_INPUT(run.test_counts[c] > 0,
                     "evaluate: class '{}' has no test rows left after preprocessing ({}); "
                     "use another imputation than impute=drop",
                     res.class_names[c], res.preprocess);

    // 3. augmentation of the (preprocessed) training rows only
    Table aug = opt.augmented ? prep.transform(*opt.augmented) : opt.augment(train_t, cs);
    if (opt.tstr) {
      std::vector<size_t> rows;
      const auto& prov = aug.provenance();
      for (size_t i = 0; i < aug.n_rows() && !prov.empty(); ++i)
        if (prov.synthetic[i]) rows.push_back(i);
      RF_CHECK_INPUT(!rows.empty(),
                     "--tstr: the augmentation made no synthetic rows (provenance synthetic = 1) "
                     "to train on");
      aug = aug.select(rows);
    }
    const std::string aug_what = opt.augmented ? "--augmented" : "the augmented training table";
    const std::vector<int32_t> y_aug = labels_in(aug, res.class_names, aug_what);
    const MatrixRM X_aug = prep.encode(aug);
    run.n_augmented = static_cast<int64_t>(y_aug.size());
    run.n_synthetic = static_cast<int64_t>(aug.n_synthetic());
    run.augmented_counts = count_labels(y_aug, K);
    if (opt.tstr) {
      const auto present = std::count_if(run.augmented_counts.begin(), run.augmented_counts.end(),
                                         [](int64_t c) { return c > 0; });
      RF_CHECK_INPUT(present >= 2,
                     "--tstr: the synthetic rows hold class {} only; train-on-synthetic needs "
                     "synthetic rows of at least two classes (generate every class)",
                     class_list(res.class_names, run.augmented_counts));
    }
    RF_CHECK_INPUT(!y_aug.empty(), "{}: no training rows", aug_what);

    // 4-5. train both arms with the same seed context, score on the test rows
    if (!progress)
      progress.emplace(
          "evaluate",
          static_cast<uint64_t>(opt.seeds) * specs.size() * (opt.train_baseline ? 2 : 1), "fits",
          ctx.quiet);
    for (size_t m = 0; m < specs.size(); ++m) {
      ClassifierComparison& cc = res.classifiers[m];
      for (int arm = opt.train_baseline ? 0 : 1; arm < 2; ++arm) {
        const MatrixRM& X = arm == 0 ? X_base : X_aug;
        const std::vector<int32_t>& y = arm == 0 ? y_base : y_aug;
        auto clf = make_classifier(specs[m]);
        clf->fit(X, y, static_cast<int>(K), nullptr, cs);
        const MatrixRM proba = clf->predict_proba(X_test);
        (arm == 0 ? cc.baseline : cc.augmented).push_back(metrics::evaluate(y_test, proba, eval));
        cc.importance_kind = clf->importance_kind();
        (arm == 0 ? model_imp_b : model_imp_a)[m].push_back(
            sum_groups(clf->feature_importances(), groups));
        if (opt.importance_repeats > 0) {
          PermutationOptions po;
          po.n_repeats = opt.importance_repeats;
          po.metric = opt.primary_metric;
          po.eval = eval;
          po.groups = groups;
          const auto pi = permutation_importance(*clf, X_test, y_test, po, cs);
          (arm == 0 ? cc.permutation_baseline : cc.permutation_augmented)
              .per_seed.push_back(pi.mean);
        }
        progress->advance();
      }
      if (!opt.train_baseline) {  // the baseline arm repeats the augmented one (see compare.h)
        cc.baseline.push_back(cc.augmented.back());
        model_imp_b[m].push_back(model_imp_a[m].back());
        if (opt.importance_repeats > 0)
          cc.permutation_baseline.per_seed.push_back(cc.permutation_augmented.per_seed.back());
      }
    }
    res.seeds.push_back(std::move(run));
  }
  if (progress) progress->finish();

  const auto metric_list = metric_names();
  for (size_t m = 0; m < specs.size(); ++m) {
    ClassifierComparison& cc = res.classifiers[m];
    for (const auto& name : metric_list) {
      MetricComparison mc;
      mc.name = name;
      for (size_t s = 0; s < cc.baseline.size(); ++s) {
        for (const auto& [n, v] : cc.baseline[s].items())
          if (n == name) mc.baseline.push_back(v);
        for (const auto& [n, v] : cc.augmented[s].items())
          if (n == name) mc.augmented.push_back(v);
      }
      if (mc.baseline.size() >= 2) {
        mc.paired = stats::compare_paired(mc.baseline, mc.augmented);
      } else {
        mc.paired.baseline = stats::summarize(mc.baseline);
        mc.paired.augmented = stats::summarize(mc.augmented);
        mc.paired.difference = stats::summarize({mc.augmented[0] - mc.baseline[0]});
      }
      cc.metrics.push_back(std::move(mc));
    }
    cc.model_importance_baseline = mean_rows(model_imp_b[m]);
    cc.model_importance_augmented = mean_rows(model_imp_a[m]);
    summarize_runs(cc.permutation_baseline, opt.top_k);
    summarize_runs(cc.permutation_augmented, opt.top_k);
  }
  return res;
}

// --- outputs ----------------------------------------------------------------------------------

namespace {

nlohmann::json summary_json(const stats::Summary& s, const std::vector<double>& values) {
  return {{"mean", s.mean}, {"std", s.std}, {"values", values}};
}

nlohmann::json importance_json(const ImportanceRuns& r) {
  return {{"mean", r.mean},
          {"std", r.std},
          {"top_k_frequency", r.top_k_frequency},
          {"per_seed", r.per_seed}};
}

std::string fmt_num(double v, int digits = 4) {
  if (std::isnan(v)) return "–";
  return fmt::format("{:.{}f}", v, digits);
}

std::string fmt_p(double p) {
  if (std::isnan(p)) return "–";
  if (p < 1e-4) return fmt::format("{:.1e}", p);
  return fmt::format("{:.4f}", p);
}

std::string csv_num(double v) { return std::isnan(v) ? "" : format_double(v); }

std::string csv_text(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

/// HDF5 group names of the classifiers: the registry name, suffixed _2, _3 ... on repeats.
std::vector<std::string> group_names(const CompareResult& r) {
  std::vector<std::string> out;
  std::map<std::string, int> seen;
  for (const auto& c : r.classifiers) {
    const int n = ++seen[c.name];
    out.push_back(n == 1 ? c.name : fmt::format("{}_{}", c.name, n));
  }
  return out;
}

}  // namespace

nlohmann::json comparison_json(const CompareResult& r) {
  using nlohmann::json;
  json j;
  j["format"] = "rareforge.evaluation";
  j["version"] = 1;
  j["rareforge_version"] = RAREFORGE_VERSION;
  j["primary_metric"] = r.primary_metric;
  j["primary_metric_description"] = r.primary_description;
  j["mode"] = r.mode;
  j["arm"] = r.arm;
  j["method"] = r.method;
  j["preprocess"] = r.preprocess;
  if (r.mode == "split") j["test_share"] = r.test_share;
  j["inputs"] = r.inputs;
  json classes = json::array();
  for (size_t c = 0; c < r.class_names.size(); ++c)
    classes.push_back({{"name", r.class_names[c]}, {"train_rows", r.class_counts[c]}});
  j["classes"] = classes;
  j["minority_class"] = r.class_names[static_cast<size_t>(r.minority)];
  if (r.class_names.size() == 2)
    j["positive_class"] = r.class_names[static_cast<size_t>(r.pos_label)];
  j["features"] = r.features;
  json seeds = json::array();
  for (const auto& s : r.seeds)
    seeds.push_back({{"seed", s.seed},
                     {"n_train", s.n_train},
                     {"n_test", s.n_test},
                     {"n_augmented", s.n_augmented},
                     {"n_synthetic", s.n_synthetic},
                     {"train_counts", s.train_counts},
                     {"augmented_counts", s.augmented_counts},
                     {"test_counts", s.test_counts}});
  j["seeds"] = seeds;
  if (r.importance_repeats > 0)
    j["permutation_importance"] = {
        {"repeats", r.importance_repeats}, {"top_k", r.top_k}, {"metric", r.primary_metric}};
  json clfs = json::array();
  for (const auto& c : r.classifiers) {
    json jc;
    jc["name"] = c.name;
    jc["label"] = c.label;
    jc["spec"] = c.spec;
    json ms = json::object();
    for (const auto& m : c.metrics) {
      const auto& p = m.paired;
      ms[m.name] = {{"baseline", summary_json(p.baseline, m.baseline)},
                    {"augmented", summary_json(p.augmented, m.augmented)},
                    {"difference",
                     {{"mean", p.difference.mean},
                      {"std", p.difference.std},
                      {"ci_low", p.t_test.ci_low},
                      {"ci_high", p.t_test.ci_high}}},
                    {"t_test", {{"statistic", p.t_test.statistic}, {"p_value", p.t_test.p_value}}},
                    {"wilcoxon",
                     {{"statistic", p.wilcoxon.statistic},
                      {"p_value", p.wilcoxon.p_value},
                      {"exact", p.wilcoxon.exact},
                      {"n_used", p.wilcoxon.n_used}}}};
    }
    jc["metrics"] = ms;
    json per_class = json::object();
    for (int arm = 0; arm < 2; ++arm) {
      json rows = json::array();
      for (const auto& sc : arm == 0 ? c.baseline : c.augmented)
        rows.push_back(sc.pr_auc_per_class);
      per_class[arm == 0 ? "baseline" : "augmented"] = rows;
    }
    jc["pr_auc_per_class"] = per_class;
    jc["model_importance"] = {{"kind", c.importance_kind},
                              {"baseline", c.model_importance_baseline},
                              {"augmented", c.model_importance_augmented}};
    if (r.importance_repeats > 0)
      jc["permutation_importance"] = {{"baseline", importance_json(c.permutation_baseline)},
                                      {"augmented", importance_json(c.permutation_augmented)}};
    clfs.push_back(jc);
  }
  j["classifiers"] = clfs;
  return j;
}

std::string comparison_markdown(const CompareResult& r) {
  const bool tstr = r.arm == "tstr";
  const std::string arm = tstr ? "TSTR (synthetic only)" : "augmented";
  std::string md = "# rareforge evaluate\n\n";
  md += fmt::format("Primary metric: **{}** (`{}`).\n\n", r.primary_description, r.primary_metric);
  for (const auto& [k, v] : r.inputs) md += fmt::format("* {}: `{}`\n", k, v);
  md += fmt::format("* augmentation: `{}`{}\n", r.method,
                    tstr ? " — train on synthetic rows only, test on real rows (TSTR)" : "");
  if (r.mode == "split")
    md += fmt::format(
        "* test rows: a stratified {:g} % of the training data, drawn per seed (never augmented, "
        "never used for fitting)\n",
        100 * r.test_share);
  else
    md +=
        "* test rows: the test file, the same for every seed (never augmented, never used for "
        "fitting); seeds vary the augmentation and the classifiers only\n";
  md += fmt::format("* preprocessing (fitted on each seed's original training rows): `{}`\n",
                    r.preprocess);
  std::string seeds;
  for (const auto& s : r.seeds) seeds += (seeds.empty() ? "" : ", ") + std::to_string(s.seed);
  md += fmt::format("* seeds ({}): {}\n", r.seeds.size(), seeds);
  std::string classes;
  for (size_t c = 0; c < r.class_names.size(); ++c)
    classes += fmt::format("{}{} {}", c ? ", " : "", r.class_names[c], r.class_counts[c]);
  md += fmt::format("* classes (training rows): {}; minority: {}\n\n", classes,
                    r.class_names[static_cast<size_t>(r.minority)]);

  md += fmt::format(
      "| classifier | baseline | {} | difference ({} − baseline) [95 % CI] | Wilcoxon p | "
      "paired t p |\n|---|---|---|---|---|---|\n",
      arm, tstr ? "TSTR" : "augmented");
  auto row = [&](const std::string& label, const MetricComparison& m) {
    const auto& p = m.paired;
    return fmt::format("| {} | {} ± {} | {} ± {} | {:+.4f} [{}, {}] | {}{} | {} |\n", label,
                       fmt_num(p.baseline.mean), fmt_num(p.baseline.std), fmt_num(p.augmented.mean),
                       fmt_num(p.augmented.std), p.difference.mean, fmt_num(p.t_test.ci_low),
                       fmt_num(p.t_test.ci_high), fmt_p(p.wilcoxon.p_value),
                       std::isnan(p.wilcoxon.p_value) ? "" : (p.wilcoxon.exact ? " (exact)" : ""),
                       fmt_p(p.t_test.p_value));
  };
  for (const auto& c : r.classifiers) md += row("`" + c.label + "`", c.metric(r.primary_metric));
  md +=
      "\nMean ± std over the seeds; p-values of the two-sided paired tests on the per-seed "
      "differences (none with one seed).\n";
  for (const auto& c : r.classifiers) {
    md += fmt::format(
        "\n## `{}`\n\nSpec: `{}`.\n\n| metric | baseline | {} | difference [95 % CI] | "
        "Wilcoxon p | paired t p |\n|---|---|---|---|---|---|\n",
        c.label, c.spec, arm);
    for (const auto& m : c.metrics) md += row(m.name, m);
    if (r.importance_repeats > 0 && !c.permutation_baseline.mean.empty()) {
      md += fmt::format(
          "\nPermutation importance on the test rows ({} repeats, drop in {}; mean over seeds) "
          "and how often the feature is in the top {} across seeds:\n\n| feature | baseline | "
          "top-{} freq. | {} | top-{} freq. |\n|---|---|---|---|---|\n",
          r.importance_repeats, r.primary_metric, r.top_k, r.top_k, arm, r.top_k);
      for (size_t f = 0; f < r.features.size(); ++f)
        md += fmt::format(
            "| {} | {} | {:.2f} | {} | {:.2f} |\n", r.features[f],
            fmt_num(c.permutation_baseline.mean[f]), c.permutation_baseline.top_k_frequency[f],
            fmt_num(c.permutation_augmented.mean[f]), c.permutation_augmented.top_k_frequency[f]);
    }
  }
  return md;
}

std::string comparison_csv(const CompareResult& r) {
  std::string out =
      "classifier,spec,metric,primary,description,n_seeds,baseline_mean,baseline_std,"
      "augmented_mean,augmented_std,diff_mean,diff_std,diff_ci_low,diff_ci_high,t_statistic,"
      "t_p_value,wilcoxon_statistic,wilcoxon_p_value,wilcoxon_exact";
  for (const auto& s : r.seeds) out += fmt::format(",baseline_seed{}", s.seed);
  for (const auto& s : r.seeds) out += fmt::format(",augmented_seed{}", s.seed);
  out += "\n";
  const int k = static_cast<int>(r.class_names.size());
  const std::string pos = r.class_names[static_cast<size_t>(r.pos_label < k ? r.pos_label : 0)];
  for (const auto& c : r.classifiers)
    for (const auto& m : c.metrics) {
      const auto& p = m.paired;
      const std::string desc =
          m.name == r.primary_metric ? r.primary_description : describe_metric(m.name, k, pos);
      out += fmt::format("{},{},{},{},{},{}", csv_text(c.name), csv_text(c.spec), m.name,
                         m.name == r.primary_metric ? 1 : 0, csv_text(desc), m.baseline.size());
      for (double v :
           {p.baseline.mean, p.baseline.std, p.augmented.mean, p.augmented.std, p.difference.mean,
            p.difference.std, p.t_test.ci_low, p.t_test.ci_high, p.t_test.statistic,
            p.t_test.p_value, p.wilcoxon.statistic, p.wilcoxon.p_value})
        out += "," + csv_num(v);
      out += std::isnan(p.wilcoxon.p_value) ? "," : (p.wilcoxon.exact ? ",1" : ",0");
      for (double v : m.baseline) out += "," + csv_num(v);
      for (double v : m.augmented) out += "," + csv_num(v);
      out += "\n";
    }
  return out;
}

namespace {

void write_hdf5_comparison(const CompareResult& r, const std::string& path) {
  h5::File f = h5::File::create(path);
  h5::Group g = f.create_group("evaluation", true);
  g.set_attr_str("format", "rareforge.evaluation")
      .set_attr_i64("version", 1)
      .set_attr_str("rareforge_version", RAREFORGE_VERSION)
      .set_attr_str("primary_metric", r.primary_metric)
      .set_attr_str("primary_metric_description", r.primary_description)
      .set_attr_str("mode", r.mode)
      .set_attr_str("arm", r.arm)
      .set_attr_str("method", r.method)
      .set_attr_str("preprocess", r.preprocess)
      .set_attr_f64("test_share", r.test_share)
      .set_attr_strs("class_names", r.class_names)
      .set_attr_i64s("class_counts", r.class_counts)
      .set_attr_str("minority_class", r.class_names[static_cast<size_t>(r.minority)])
      .set_attr_strs("features", r.features)
      .set_attr_i64("importance_repeats", r.importance_repeats)
      .set_attr_i64("top_k", r.top_k);
  std::vector<std::string> keys, values;
  for (const auto& [k, v] : r.inputs) {
    keys.push_back(k);
    values.push_back(v);
  }
  g.set_attr_strs("input_keys", keys).set_attr_strs("input_values", values);
  {
    h5::Group sg = g.create_group("seeds", true);
    std::vector<int64_t> seed, n_train, n_test, n_aug, n_syn;
    for (const auto& s : r.seeds) {
      seed.push_back(static_cast<int64_t>(s.seed));
      n_train.push_back(s.n_train);
      n_test.push_back(s.n_test);
      n_aug.push_back(s.n_augmented);
      n_syn.push_back(s.n_synthetic);
    }
    sg.write("seed", seed);
    sg.write("n_train", n_train);
    sg.write("n_test", n_test);
    sg.write("n_augmented", n_aug);
    sg.write("n_synthetic", n_syn);
  }
  h5::Group cg = g.create_group("classifiers", true);
  const auto gnames = group_names(r);
  for (size_t i = 0; i < r.classifiers.size(); ++i) {
    const auto& c = r.classifiers[i];
    h5::Group one = cg.create_group(gnames[i], true);
    one.set_attr_str("name", c.name).set_attr_str("spec", c.spec);
    h5::Group sum = one.create_group("summary", true);
    std::vector<std::string> metric;
    std::vector<std::vector<double>> cols(12);
    std::vector<uint8_t> exact;
    for (const auto& m : c.metrics) {
      const auto& p = m.paired;
      metric.push_back(m.name);
      const double v[12] = {p.baseline.mean,  p.baseline.std,       p.augmented.mean,
                            p.augmented.std,  p.difference.mean,    p.difference.std,
                            p.t_test.ci_low,  p.t_test.ci_high,     p.t_test.statistic,
                            p.t_test.p_value, p.wilcoxon.statistic, p.wilcoxon.p_value};
      for (size_t q = 0; q < 12; ++q) cols[q].push_back(v[q]);
      exact.push_back(p.wilcoxon.exact ? 1 : 0);
    }
    sum.write_strings("metric", metric);
    const char* names[12] = {"baseline_mean", "baseline_std",       "augmented_mean",
                             "augmented_std", "diff_mean",          "diff_std",
                             "diff_ci_low",   "diff_ci_high",       "t_statistic",
                             "t_p_value",     "wilcoxon_statistic", "wilcoxon_p_value"};
    for (size_t q = 0; q < 12; ++q) sum.write(names[q], cols[q]);
    sum.write("wilcoxon_exact", exact);
    h5::Group b = one.create_group("baseline", true), a = one.create_group("augmented", true);
    for (const auto& m : c.metrics) {
      b.write(m.name, m.baseline);
      a.write(m.name, m.augmented);
    }
    h5::Group mi = one.create_group("model_importance", true);
    mi.set_attr_str("kind", c.importance_kind);
    mi.write("baseline", c.model_importance_baseline);
    mi.write("augmented", c.model_importance_augmented);
    if (r.importance_repeats > 0) {
      h5::Group pi = one.create_group("permutation_importance", true);
      pi.write("baseline_mean", c.permutation_baseline.mean);
      pi.write("baseline_std", c.permutation_baseline.std);
      pi.write("baseline_top_k_frequency", c.permutation_baseline.top_k_frequency);
      pi.write("augmented_mean", c.permutation_augmented.mean);
      pi.write("augmented_std", c.permutation_augmented.std);
      pi.write("augmented_top_k_frequency", c.permutation_augmented.top_k_frequency);
    }
  }
  f.close();
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) throw Error(fmt::format("cannot write '{}'", path));
}

}  // namespace

std::string markdown_path(const std::string& path) {
  return std::filesystem::path(path).replace_extension(".md").string();
}

void write_comparison(const CompareResult& r, const std::string& path, const std::string& what) {
  const std::string ext = std::filesystem::path(path).extension().string();
  std::string lower;
  for (char ch : ext) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  RF_CHECK_INPUT(lower == ".json" || lower == ".csv" || lower == ".h5" || lower == ".hdf5",
                 "{}: '{}' must end in .json, .csv, .h5 or .hdf5 (a Markdown table is written "
                 "beside it)",
                 what, path);
  AtomicFile main(path), md(markdown_path(path));
  if (lower == ".json")
    write_text(main.temp_path(), comparison_json(r).dump(2) + "\n");
  else if (lower == ".csv")
    write_text(main.temp_path(), comparison_csv(r));
  else
    write_hdf5_comparison(r, main.temp_path());
  write_text(md.temp_path(), comparison_markdown(r));
  main.commit();
  md.commit();
}

}  // namespace rareforge::classifiers
