// Synthetic rare-event data: `rareforge make-data` and the arena's `preset:NAME,...` data sets.
//
// In the spirit of scikit-learn's make_classification (class clusters on the vertices of a
// hypercube, redundant features as linear combinations of the informative ones, pure-noise
// features, label noise), with what rare-event benchmarks need on top: exact class counts for
// the asked minority rates, several rare classes, categorical columns, covariate drift along a
// time column and an optional sensitive attribute. Every draw comes from the Context's
// streams::kMakeData stream (Rng, bit-for-bit defined), so the same options and seed give the
// same table on every platform. docs/DATA.md describes each parameter's effect on the data.
//
// Layout of the table (columns in this order; absent parts are left out):
//   time                numeric time step: row i has time i (0, 1, ..., rows - 1); rows are in
//                       time order. Present when drift != 0 or time=true.
//   inf_1..inf_I        informative features
//   red_1..red_R        redundant features: fixed random linear combinations of inf_*
//   noise_1..noise_N    N(0, 1) noise, independent of everything
//   cat_1..cat_K        categorical, levels named A, B, C, ...: equal-frequency bins of
//                       inf_((k-1) mod I + 1) + N(0, 1) noise, so they carry class signal
//   group               categorical sensitive attribute, levels A and B (B = the share
//                       `sensitive` of the rows). Present when sensitive > 0.
//   label               the target, last: class 0 "normal" (the majority), then the rare
//                       classes "rare" (one rare class) or "rare_1", "rare_2", ... (several).
//
// The model, for a row with class c (see docs/DATA.md for the details):
//   1. class counts: rare class j gets round(minority_j * rows) rows (halves away from zero);
//      "normal" gets the rest. Rows are assigned to classes in random order.
//   2. label noise: in every class c exactly round(flip * n_c) rows, chosen at random, take their
//      features from another class (uniform among the others) while keeping label c. Class
//      counts stay exact; the measured noise fraction is sum_c round(flip * n_c) / rows.
//   3. clusters: each class has `clusters` clusters; the C * clusters centres are distinct
//      random vertices of the hypercube {-separation, +separation}^I. Within a class the rows are
//      dealt to its clusters in turn (sizes differ by at most one). A row is its centre plus
//      L z, z ~ N(0, I), where L is a per-cluster random matrix whose rows have unit norm, so
//      every informative coordinate has within-cluster standard deviation exactly 1 and the
//      coordinates are correlated.
//   4. drift: every informative coordinate of row i gets + drift * i / (rows - 1) (the mean
//      moves by `drift` from the first row to the last; between the first and last time deciles
//      by 0.9 drift).
//   5. sensitive group: round(sensitive * rows) rows are in group B. Of them, the number in the
//      rare classes (all non-normal rows) is round(base + |bias| * (extreme - base)), where
//      base = n_B * n_rare / rows (no association) and extreme is the most (bias > 0) or the
//      fewest (bias < 0) rare rows group B can hold. Group B's informative coordinates are
//      shifted by group_shift.
//   6. redundant = informative x W (W: I x R, entries uniform in [-1, 1]), after drift and
//      group shift, so they drift and shift too; noise features do not.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/context.h"
#include "core/params.h"
#include "core/table.h"

namespace rareforge {

/// Everything that defines a synthetic data set except the seed (which comes from Context).
/// Defaults are the `baseline_easy` preset. validate() checks the fields and their combination.
struct MakeDataOptions {
  std::string preset = "baseline_easy";  ///< preset these options started from (provenance)
  int64_t rows = 10000;                  ///< total rows, >= 10
  int informative = 5;                   ///< informative features (cluster dimensions), >= 1
  int redundant = 2;                     ///< linear combinations of the informative features
  int noise = 3;                         ///< N(0, 1) features with no signal
  int categorical = 0;                   ///< categorical features derived from informative ones
  int levels = 4;                        ///< levels per categorical feature, in [2, 26]
  /// Share of the rows in each rare class (one entry per rare class; sum < 1). The majority
  /// class "normal" gets the rest.
  std::vector<double> minority = {0.1};
  double separation = 1.0;   ///< half the distance between cluster centres per coordinate
  double flip = 0.0;         ///< label noise: share of each class with another class's features
  int clusters = 1;          ///< clusters per class
  double drift = 0.0;        ///< informative means move by drift from the first row to the last
  bool time = false;         ///< write the time column even when drift == 0
  double sensitive = 0.0;    ///< share of rows in group B; 0 = no group column
  double bias = 0.0;         ///< association of group B with the rare classes, in [-1, 1]
  double group_shift = 0.0;  ///< group B's informative coordinates are shifted by this

  /// Number of classes: 1 + minority.size().
  int n_classes() const { return 1 + static_cast<int>(minority.size()); }
  /// Exact rows per class (label order: normal, then the rare classes), see the file comment.
  std::vector<int64_t> class_counts() const;
  /// Checks every field and their combination; InputError naming the parameter otherwise.
  void validate() const;
  /// Canonical data spec `preset:NAME,rows=...,...` with every parameter; parse_data_spec of it
  /// gives these options back.
  std::string spec() const;
};

/// A preset: name, one-line description, and its options.
struct PresetInfo {
  std::string name;
  std::string description;
  MakeDataOptions options;
};

/// The presets, in the order `rareforge make-data --list` prints them.
const std::vector<PresetInfo>& preset_registry();

/// Options of preset `name`; InputError listing the presets for an unknown name.
MakeDataOptions preset(const std::string& name);

/// Parameter table of make-data, with the defaults taken from `defaults` (a preset's options),
/// for check_params and for `--list`.
std::vector<ParamDef> make_data_params(const MakeDataOptions& defaults = MakeDataOptions{});

/// `base` with the parameters of `kv` applied and validated. `kv` is `key=value,...`; the one
/// list-valued parameter, minority, takes its values comma-separated too (`minority=0.05,0.01`
/// — an item without '=' continues the previous minority value). Unknown keys, bad values and
/// bad combinations are InputErrors naming `what` or the parameter.
MakeDataOptions apply_params(MakeDataOptions base, const std::string& kv,
                             const std::string& what = "--param");

/// True if `text` names a generated data set (starts with "preset:").
bool is_data_spec(const std::string& text);

/// Parse `preset:NAME[,key=value,...]` (e.g. `preset:noisy_overlap,rows=5000,minority=0.05,0.01`)
/// into validated options. InputError naming `what` for a bad spec.
MakeDataOptions parse_data_spec(const std::string& text, const std::string& what = "data set");

/// Generate the table (target `label`, last column). Options are validated first. Deterministic
/// in (options, ctx.seed); uses only Context::rng(streams::kMakeData).
Table make_rare_event_data(const MakeDataOptions& opt, const Context& ctx);

}  // namespace rareforge
