// Stratified splits: train / test (/ validation) and k folds, seeded.
//
// Why stratified with a floor of one row: rare classes are the point of rareforge, and a test
// split without a row of some class cannot measure that class at all. So every class with rows
// keeps at least one row in every split, or the call fails naming the class.
//
// Allocation (train/test/validation). With n rows, n_c in class c, and share s (test or
// validation):
//   1. the split gets round(s * n) rows in total (half away from zero);
//   2. those are shared out over the classes by largest remainder: class c first gets
//      floor(s * n_c), and the rows left over go one each to the classes with the largest
//      fractional part s * n_c - floor(s * n_c), ties to the lower class label. So each class is
//      within one row of its exact share and the total is exact (as scikit-learn's stratified
//      splitters aim for);
//   3. a class that got 0 rows in a split gets 1, and if that leaves it no training row the larger
//      of its test / validation parts gives one back. Only this step can move the totals off
//      round(s * n), by at most one row per small class.
// Within a class the rows are shuffled (Rng::shuffle, classes in label order, one stream) and
// taken in that order: first test, then validation, the rest train. Each returned index vector
// is sorted ascending, so a split selected from the table keeps file order.
// Classes with no rows (a target category no row uses) are ignored.
//
// Folds: each class's rows are shuffled as above; the shuffled rows of all classes, class after
// class, are dealt to folds 0, 1, ..., k-1, 0, 1, ... So every fold holds floor or ceil of n_c / k
// rows of class c and the fold sizes differ by at most one. A class with fewer than k rows is an
// error (some fold's test part would miss it).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/table.h"

namespace rareforge {

struct SplitOptions {
  double test_share = 0.2;  ///< `--test-share`, in (0, 1)
  double val_share = 0.0;   ///< `--val-share`, in [0, 1); 0 = no validation split
  /// Checks the shares (InputError naming the flag).
  void validate() const;
};

/// Row indices of each split, each sorted ascending; together they cover every row once.
struct SplitIndices {
  std::vector<size_t> train;
  std::vector<size_t> val;  ///< empty when val_share == 0
  std::vector<size_t> test;
};

/// Stratified split of rows labelled `labels` (codes into `class_names`, all >= 0).
/// Throws InputError naming the class when a class has fewer rows than there are splits.
SplitIndices stratified_split(const std::vector<int32_t>& labels,
                              const std::vector<std::string>& class_names, const SplitOptions& opt,
                              Rng& rng);
/// Same, on the target of `table`.
SplitIndices stratified_split(const Table& table, const SplitOptions& opt, Rng& rng);

/// The split as tables (Table::select of each index vector; provenance and categories kept).
struct TableSplit {
  Table train;
  Table val;  ///< no rows when val_share == 0
  Table test;
};
TableSplit split_table(const Table& table, const SplitOptions& opt, Rng& rng);

struct Fold {
  std::vector<size_t> train;  ///< sorted ascending
  std::vector<size_t> test;   ///< sorted ascending
};

/// Stratified k-fold (k >= 2). Fold f's test rows are the rows dealt to f; its train rows are
/// all others. Throws InputError naming `--folds` and the class when a class has fewer than k
/// rows.
std::vector<Fold> stratified_kfold(const std::vector<int32_t>& labels,
                                   const std::vector<std::string>& class_names, int k, Rng& rng);
std::vector<Fold> stratified_kfold(const Table& table, int k, Rng& rng);

}  // namespace rareforge
