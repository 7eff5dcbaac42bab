// The comparison protocol: does augmentation help my classifier, by how much, and is that more
// than noise? `rareforge evaluate` is a thin layer over run_comparison(); docs/CLASSIFIERS.md
// has the prose.
//
// For each seed s = 1..S (the run's seeds are ctx.seed + s, so --seed shifts them all):
//   1. split   without a test table: a stratified split of `train` (core/split.h, share
//              test_share, stream kSplit of seed s) — the test rows are fixed for that seed, and
//              every class keeps a row on each side. With a test table (`--test`): the test table
//              is the frozen test set of every seed and all of `train` is training data; the seeds
//              then vary only the augmentation and the classifiers.
//   2. fit     core/preprocess.h (`preprocess` spec) on the ORIGINAL training rows of the seed,
//              and nothing else; transform the training rows.
//   3. augment the transformed training rows only: augment(train, ctx_s) (any sampler or
//              generator), or the pre-augmented table given by the caller (transformed with the
//              same fitted preprocessing). TSTR mode keeps only the synthetic rows (provenance
//              synthetic = 1) of the result: train on synthetic, test on real.
//   4. train   every classifier twice with the same seed context: on the original training rows
//              (baseline) and on the augmented ones (augmented / TSTR).
//   5. score   both on the seed's test rows (preprocessed with the step-2 fit): every scalar of
//              metrics::evaluate (binary: the minority class is the positive class; predictions
//              by argmax), and optionally permutation importance (classifiers/importance.h).
// The test rows are never augmented, never used to fit the preprocessing, a sampler, a generator
// or a classifier. CompareResult::seeds records the row indices of each split so this can be
// audited.
// Then per classifier and metric: mean ± std over the seeds of each arm, and the paired difference
// augmented − baseline (stats::compare_paired: mean, std, 95 % t interval, paired t-test and
// Wilcoxon signed-rank p-values; the Wilcoxon p is exact for S <= 50 without zero or tied
// differences). With S = 1 only the means are reported (p-values NaN).
// The primary metric (default pr_auc) is the PR-AUC (average precision) of the minority class
// for two classes and the macro PR-AUC for more; the result states it in words.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "classifiers/metrics.h"
#include "classifiers/stats.h"
#include "core/context.h"
#include "core/table.h"

namespace rareforge::classifiers {

/// Makes the augmented training table from the (preprocessed) training rows of one seed. The
/// result must have the input's columns (names and kinds) and target; rows with provenance
/// synthetic = 1 are the synthetic ones (TSTR trains on those only). Use the seed context it is
/// given (ctx.seed differs per seed). Wrap a sampler as
///   [s](const Table& t, const Context& c) { return s->resample(t, request, c).table; }
/// or a generator with resample_with_generator (core/generator.h).
using Augmenter = std::function<Table(const Table& train, const Context& ctx)>;

struct CompareOptions {
  /// Classifier specs (classifiers/classifier.h make_classifier), each trained on both arms.
  std::vector<std::string> classifiers = {"xgboost", "logreg"};
  /// Number of seeds S (>= 1; >= 2 for p-values, >= 6 for an exact Wilcoxon p below 0.05).
  int seeds = 10;
  /// Share of `train` held out as the test split when no test table is given, in (0, 1).
  double test_share = 0.2;
  /// Metric the summary leads with (a metric_names() entry, classifiers/importance.h).
  std::string primary_metric = "pr_auc";
  /// core/preprocess.h spec, fitted on each seed's original training rows.
  std::string preprocess = "impute=median,scale=standard";
  /// Train on synthetic rows only (augmented arm = TSTR); the baseline trains on the real rows.
  bool tstr = false;
  /// How the augmented arm's training rows are made: exactly one of `augment` and `augmented`.
  Augmenter augment;
  /// A pre-augmented training table (raw, as read from a file); requires a test table, since rows
  /// made from all of `train` would leak any split of it. Used for every seed.
  const Table* augmented = nullptr;
  /// Text naming the augmentation in the outputs (method spec or file name).
  std::string method;
  /// Permutation importance on the test rows (per original feature column): repeats per feature,
  /// 0 = off. Scored with the primary metric.
  int importance_repeats = 0;
  /// k of the top-k stability of the permutation importances across seeds.
  int top_k = 5;
  /// false: train the augmented arm only, and let the baseline arm repeat its numbers (paired
  /// differences are then 0). For callers that take the baseline from elsewhere: the arena
  /// trains it once per seed, in its "none" cell, instead of once per method.
  bool train_baseline = true;

  /// Checks the fields (InputError naming the option).
  void validate() const;
};

/// One seed's data: what was trained on and tested on.
struct SeedRun {
  uint64_t seed = 0;
  /// Rows of `train` (indices into it) in this seed's training / test split. With a test table:
  /// train_rows = every row of `train`, test_rows = every row of the test table.
  std::vector<size_t> train_rows, test_rows;
  int64_t n_train = 0;      ///< baseline training rows (after preprocessing, e.g. impute=drop)
  int64_t n_test = 0;       ///< test rows scored
  int64_t n_augmented = 0;  ///< augmented-arm training rows (TSTR: synthetic rows only)
  int64_t n_synthetic = 0;  ///< synthetic rows among them
  std::vector<int64_t> train_counts, augmented_counts, test_counts;  ///< rows per class
};

/// One metric of one classifier: per-seed values of each arm and the paired comparison.
struct MetricComparison {
  std::string name;
  std::vector<double> baseline, augmented;  ///< index = seed run
  stats::PairedComparison paired;           ///< tests NaN when S < 2
};

/// Permutation importance of one arm: per seed and feature, and the summaries over seeds.
struct ImportanceRuns {
  std::vector<std::vector<double>> per_seed;  ///< [seed][feature]: mean over repeats
  std::vector<double> mean, std;              ///< over seeds (std ddof 1; NaN for S = 1)
  std::vector<double> top_k_frequency;        ///< classifiers/importance.h top_k_frequency
};

struct ClassifierComparison {
  std::string name;   ///< registry name
  std::string label;  ///< the spec as given (for tables and messages)
  std::string spec;   ///< canonical spec
  std::vector<metrics::Scores> baseline, augmented;  ///< full scores per seed
  std::vector<MetricComparison> metrics;             ///< one per metric_names() entry
  /// The model's own importances (Classifier::feature_importances) per original feature column
  /// (summed over its one-hot block, so seeds whose splits saw other categories still line up),
  /// mean over seeds; `importance_kind` says what they are (gain, abs_coef, ...).
  std::string importance_kind;
  std::vector<double> model_importance_baseline, model_importance_augmented;
  /// Present when CompareOptions::importance_repeats > 0 (per original feature column).
  ImportanceRuns permutation_baseline, permutation_augmented;

  const MetricComparison& metric(const std::string& name) const;
};

struct CompareResult {
  std::string mode;  ///< "split" (test_share of train per seed) or "test-file" (frozen test)
  std::string arm;   ///< "augmented" or "tstr"
  std::string method;
  std::string preprocess;
  double test_share = 0;  ///< split mode only
  std::string primary_metric;
  std::string primary_description;  ///< e.g. "PR-AUC (average precision) of class 'bad'"
  std::vector<std::string> class_names;
  std::vector<int64_t> class_counts;  ///< rows per class in `train`
  int32_t minority = 0;               ///< label of the minority class (fewest rows in train)
  int32_t pos_label = 1;              ///< binary: positive class of AUC/AP (= minority)
  std::vector<std::string> features;  ///< original feature columns
  std::vector<std::string> encoded_features;  ///< classifier input columns (seed 1's fit)
  int importance_repeats = 0;
  int top_k = 0;
  std::vector<SeedRun> seeds;
  std::vector<ClassifierComparison> classifiers;
  /// Free-form inputs to state in the outputs (e.g. "train" -> file name); set by the caller.
  std::map<std::string, std::string> inputs;
};

/// Split a `--classifiers` list into specs. Specs are separated by ',' or ';'; since a spec's own
/// parameters are comma-separated too, a piece that starts with key=value (an '=' before any
/// ':') continues the previous spec: "xgboost:max_depth=4,n_estimators=50,logreg" gives
/// {"xgboost:max_depth=4,n_estimators=50", "logreg"}. InputError naming `what` for an empty
/// list or a list starting with key=value.
std::vector<std::string> split_classifier_list(const std::string& text,
                                               const std::string& what = "--classifiers");

/// Run the protocol. `test` = nullptr: split `train` per seed; otherwise the frozen test table.
/// InputError for bad options, a class without rows in train (or test), a test/augmented table
/// whose columns or classes do not match `train`, TSTR with synthetic rows of fewer than two
/// classes. Progress on stderr unless ctx.quiet.
CompareResult run_comparison(const Table& train, const Table* test, const CompareOptions& opt,
                             const Context& ctx);

// --- outputs ----------------------------------------------------------------------------------
// JSON (format "rareforge.evaluation", version 1): settings, primary metric, seeds (splits
// without the row lists), per classifier: summary per metric, per-seed values, importances.
// CSV: one row per (classifier, metric) with the summary columns and the per-seed values.
// HDF5: the same as the JSON under /evaluation (docs/CLASSIFIERS.md has the layout).
// Markdown: the primary metric table, then every metric per classifier.

nlohmann::json comparison_json(const CompareResult& r);
std::string comparison_markdown(const CompareResult& r);
std::string comparison_csv(const CompareResult& r);
/// Write `path` (.json, .csv, .h5 / .hdf5) and the Markdown table beside it (same stem, .md),
/// each atomically. InputError naming `what` for another extension.
void write_comparison(const CompareResult& r, const std::string& path,
                      const std::string& what = "--out");
/// The Markdown file written beside `path`: its extension replaced by ".md".
std::string markdown_path(const std::string& path);

}  // namespace rareforge::classifiers
