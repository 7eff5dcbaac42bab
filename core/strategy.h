// Sampling strategy: which classes a sampler touches and how many rows each ends up with.
//
// The semantics are imbalanced-learn 0.10's `check_sampling_strategy` (imblearn/utils/
// _validation.py), checked against it by tests/fixtures/strategy.json. Text forms (`--strategy`):
//
//   auto            over: every class but the majority;  under/clean: every class but the minority
//   minority        the minority class only (over-sampling only)
//   majority        the majority class only (under-sampling and cleaning only)
//   not minority    every class but the minority ("not-minority" and "not_minority" also accepted)
//   not majority    every class but the majority
//   all             every class
//   R (a float)     binary targets, over/under only, 0 < R <= 1:
//                     over:  minority target = int(R * n_majority); it must add at least one row
//                     under: majority target = int(n_minority / R); it must not exceed the
//                            majority's current count
//   c=N,c=N,...     final row count N of each named class (over: N >= current count; under:
//                   N <= current count; not for cleaning). Classes not named are untouched.
//   c,c,...         cleaning only: the classes to clean. A single token that is a class name is a
//                   class list for cleaning and a ratio (or an error) otherwise.
//
// Counts per kind, with n_max / n_min the majority / minority counts:
//   over-sampling   each targeted class grows to n_max (string forms);
//   under-sampling  each targeted class shrinks to n_min (string forms);
//   cleaning        only the set of classes matters; a cleaner decides how many rows to remove.
// "Majority" and "minority" break ties by the lowest class label, as imbalanced-learn does with
// labels sorted. Classes with zero rows (a category of the target that no row uses) are not part
// of the data: they are never targeted and a strategy that names one is an error.
//
// --max-ratio R (R >= 1, optional): every class's final count is capped at floor(R * its original
// count). It only ever lowers over-sampling targets (under-sampling targets are already below the
// cap) and does not affect cleaning.
//
// Bad strategies throw InputError naming `--strategy` (or `--max-ratio`) and the valid forms.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace rareforge {

class Table;

enum class SamplingKind { kOver, kUnder, kClean };

const char* to_string(SamplingKind kind);

/// A parsed `--strategy` text (syntax only; plan_sampling checks it against the classes).
struct SamplingStrategy {
  enum class Form {
    kAuto,
    kMinority,
    kMajority,
    kNotMinority,
    kNotMajority,
    kAll,
    kRatio,
    kCounts,
    kClasses
  };
  Form form = Form::kAuto;
  double ratio = 0.0;                                   ///< kRatio
  std::vector<std::pair<std::string, int64_t>> counts;  ///< kCounts: (class name, final count)
  /// kClasses: the named classes. For kRatio it holds the token too, because a single token that
  /// is a class name means a class list for cleaning.
  std::vector<std::string> classes;
  std::string text;  ///< as the user wrote it

  /// Parse `--strategy` text; throws InputError naming `--strategy` on bad syntax.
  static SamplingStrategy parse(const std::string& text);
};

/// What a sampler must do, one entry per class (indexed by label, i.e. Table::class_names()).
struct SamplingPlan {
  SamplingKind kind = SamplingKind::kOver;
  std::vector<std::string> class_names;
  std::vector<int64_t> current;   ///< rows per class before resampling
  std::vector<int64_t> target;    ///< rows per class after (over/under); = current for cleaning
  std::vector<int64_t> n_add;     ///< over: target - current (>= 0); 0 otherwise
  std::vector<int64_t> n_remove;  ///< under: current - target (>= 0); 0 otherwise
  std::vector<uint8_t> clean;     ///< cleaning: 1 = the cleaner may remove rows of this class
  /// 1 = the class is in imbalanced-learn's dict for this strategy (for over/under a targeted
  /// class may still get 0 rows added/removed, e.g. the majority under `all`).
  std::vector<uint8_t> targeted;
  std::vector<std::string> warnings;  ///< e.g. a count above the majority's (imblearn warns too)

  size_t n_classes() const { return current.size(); }
  int64_t total_add() const;
  int64_t total_remove() const;
  /// One line per class: "name: current -> target (+add)"; for logs and errors.
  std::string describe() const;
};

/// Plan for `counts` (rows per class, indexed by label) named `class_names`.
/// `max_ratio`: see the header comment; must be finite and >= 1 when given.
SamplingPlan plan_sampling(const SamplingStrategy& strategy, const std::vector<int64_t>& counts,
                           const std::vector<std::string>& class_names, SamplingKind kind,
                           std::optional<double> max_ratio = std::nullopt);

/// Convenience: parse `text` and plan for the classes of `table` (which must have a target).
SamplingPlan plan_sampling(const std::string& text, const Table& table, SamplingKind kind,
                           std::optional<double> max_ratio = std::nullopt);

}  // namespace rareforge
