// The validation stage: one report comparing synthetic rows with the real rows they imitate.
//
//   ValidateOptions opt;                 // every field documented below
//   nlohmann::json report = validate(real, synthetic, &holdout, opt, ctx);
//   write_report(report, "report.json");  // or report.h5; report.md is written beside it
//
// What is compared. `synthetic` may be a resampled table (original + synthetic rows, provenance
// column __synthetic): by default only its rows marked synthetic are compared with `real`; a
// table without provenance, or whose rows are all marked original, is compared whole.
// ValidateOptions::all_rows compares every row regardless. Every metric is computed overall and
// per class (synthetic rows of class C against real rows of class C; a class without synthetic
// rows is listed with its counts only). The schema of the report is docs/FORMAT.md
// "Validation report"; docs/VALIDATION.md describes every metric and its reference.
//
// Encodings. Metrics on whole rows (MMD, detection, PRDC, nearest-neighbour ratios, diversity)
// use the feature columns (target excluded) one-hot encoded and standardised by the real rows'
// mean and standard deviation (ddof 0; a constant column is only centred); a missing numeric value
// becomes the real mean (0 after standardising) and a missing category an all-zero block. The
// DCR family uses SDMetrics' range-normalised per-column distance instead (validation/dcr.h).
//
// Input checks (InputError, before anything is computed): different columns (name, order, kind)
// or target, no target, a synthetic class the real table does not have, no synthetic row to
// compare, a --sensitive column that is missing or numeric, bad option values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/context.h"
#include "core/table.h"

namespace rareforge::validation {

struct ValidateOptions {
  /// Compare every synthetic-table row, ignoring the __synthetic provenance.
  bool all_rows = false;
  /// Also compute every metric per class.
  bool per_class = true;
  /// A progress line on stderr (sections done, ETA; none when ctx.quiet) from this many compared
  /// real + synthetic rows: large inputs take minutes.
  size_t progress_rows = 50000;
  /// MMD: permutations for the p-value (0 = none).
  int permutations = 100;
  /// MMD: rows per sample in the permutation test (seeded subsample beyond).
  size_t perm_rows = 1000;
  /// MMD: pooled rows for the median-heuristic bandwidth (seeded subsample beyond).
  size_t median_rows = 1000;
  /// Detection: classifier specs (classifiers registry), e.g. "logreg", "xgboost:max_depth=3".
  std::vector<std::string> detectors = {"logreg", "xgboost"};
  /// Detection: stratified folds (>= 2).
  int folds = 3;
  /// Detection: rows per side (seeded subsample beyond); 0 = all.
  size_t detection_rows = 20000;
  /// PRDC neighbourhood size (>= 1).
  int prdc_k = 5;
  /// Diversity: rows per sample for the mean pairwise distance (seeded subsample beyond).
  size_t pairwise_rows = 2000;
  /// DCR baseline: uniformly random rows (min(this, synthetic rows)).
  size_t random_rows = 10000;
  /// A synthetic row with 0 < DCR <= near_threshold is a near duplicate of a real row.
  double near_threshold = 0.01;
  /// Duplicates listed per kind (the counts are always complete).
  size_t list_limit = 100;
  /// Column whose groups' shares are reported before and after ("" = none); categorical.
  std::string sensitive;
  /// Where the MMD sums and the DCR scans run: "cpu", or "cuda" / "cuda:N" through the LibTorch
  /// extension (accel.h).
  std::string device = "cpu";

  /// Verdict thresholds (each check passes when the value is on the right side; see FORMAT.md).
  double min_quality = 0.8;           ///< quality.overall >=
  double min_detection_score = 0.5;   ///< every detector's score >=
  double max_mmd2 = 0.05;             ///< mmd.mmd2 <=
  double min_precision = 0.5;         ///< prdc.precision >=
  double min_coverage = 0.5;          ///< prdc.coverage >=
  double min_dcr_baseline = 0.5;      ///< privacy.dcr.baseline_protection >=
  double min_dcr_overfitting = 0.5;   ///< privacy.dcr.overfitting_protection >= (with holdout)
  double max_exact_duplicates = 0.0;  ///< share of synthetic rows that copy a real row <=
  double min_boundary = 0.95;         ///< mean boundary adherence >=

  /// InputError naming the field for out-of-range values.
  void validate() const;
};

/// PRDC (Naeem et al. 2020) with neighbourhood size k, Euclidean, both samples with >= k + 1
/// rows. r_i = distance from real row i to its k-th nearest other real row, s_j likewise among
/// the synthetic rows; "within" is <= (the kNN engine's ball test; the prdc package uses <,
/// which differs only for points exactly on a ball's surface):
///   precision = share of synthetic rows inside some real ball B(x_i, r_i)
///   recall    = share of real rows inside some synthetic ball B(y_j, s_j)
///   density   = (1 / (k M)) sum_j #{i : y_j in B(x_i, r_i)}
///   coverage  = share of real rows i whose nearest synthetic row lies in B(x_i, r_i)
struct Prdc {
  double precision = 0, recall = 0, density = 0, coverage = 0;
};
Prdc prdc(const MatrixRM& real, const MatrixRM& synthetic, int k, int threads);

/// Rows of `table` marked synthetic (provenance) whose feature values (target excluded) equal
/// those of some row marked original, bit for bit (a missing value equals a missing value), in
/// ascending order. Hash-based: O(rows). `rareforge resample --drop-duplicates` removes them.
std::vector<size_t> synthetic_exact_duplicates(const Table& table);

/// The report (schema: docs/FORMAT.md). `synthetic_name`, `real_name`, `holdout_name` are
/// recorded as given (file names). holdout may be null.
nlohmann::json validate(const Table& real, const Table& synthetic, const Table* holdout,
                        const ValidateOptions& opt, const Context& ctx,
                        const std::string& real_name = "", const std::string& synthetic_name = "",
                        const std::string& holdout_name = "");

/// Write the report to `path` (.json: JSON; .h5 / .hdf5: HDF5, same content) and the Markdown
/// summary beside it (path with its extension replaced by .md). Both atomically; the Markdown is
/// committed only after the report, and the report only once both are written.
void write_report(const nlohmann::json& report, const std::string& path);

/// The Markdown summary (verdicts with their thresholds, headline numbers).
std::string markdown_summary(const nlohmann::json& report);

/// Path of the Markdown summary for a report path.
std::string summary_path(const std::string& report_path);

}  // namespace rareforge::validation
