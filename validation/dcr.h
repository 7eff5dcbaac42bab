// Distance to closest record in SDMetrics' definition, exact and streaming.
//
// SDMetrics (sdmetrics.single_table.privacy, dcr_utils.calculate_dcr) measures the distance
// between a synthetic row s and a real row r as the mean over the columns of a per-column
// distance in [0, 1]:
//   numeric      min(|s_j - r_j| / range_j, 1), range_j = max - min of the real column
//                (a column of range 0: 0 when equal, else 1)
//   categorical  0 when the categories are equal, else 1
//   missing      0 when both are missing, 1 when one is
// and DCR(s) = min over real rows r of that mean.
//
// dcr_encode() maps a table to a matrix in which each column's distance is min(|a_j - b_j|, 1):
// numeric values divided by range_j (0 / 2 for a column of range 0), category codes as they are
// (codes must be shared by the tables compared: encode tables with one schema), and a missing
// value as 1e300. dcr_nearest() then scans every reference row for every query: a float screen
// (16 reference rows x 4 queries per step, AVX-512 or portable vector code; each column shifted
// by its centre) with a proven bound on its difference from the double sum picks the rows that
// can be nearest, and those are re-checked in double in index order. The result is exactly the
// double computation's (same sums, ties to the smaller reference index), at float speed.
// Memory: one packed float copy of the reference; no n x m matrix.
#pragma once

#include <cstdint>
#include <vector>

#include "core/table.h"

namespace rareforge::validation {

/// Per-column scale for dcr_encode: feature columns of `schema_source` (target excluded), each
/// numeric column's real min and range.
struct DcrScale {
  std::vector<size_t> columns;  ///< table column indices used
  std::vector<double> lo;       ///< numeric: real min (categorical: unused)
  std::vector<double> range;    ///< numeric: real max - min (categorical: unused)
};
/// Scale from the real rows (NaN ignored; an all-missing column gets range 0).
DcrScale dcr_scale(const Table& real);
/// n x d matrix as described above.
MatrixRM dcr_encode(const Table& t, const DcrScale& scale);

struct DcrNearest {
  std::vector<double> distance;  ///< per query: mean per-column distance to the nearest row
  std::vector<int64_t> index;    ///< per query: that reference row (smallest index on ties)
};
/// Exact nearest reference row of every query (both encoded by dcr_encode). reference needs
/// at least one row; threads 0 = all hardware threads.
DcrNearest dcr_nearest(const MatrixRM& reference, const MatrixRM& queries, int threads);
/// Brute-force reference of dcr_nearest (for tests): the SDMetrics formula on the raw tables,
/// column by column.
DcrNearest dcr_nearest_reference(const Table& reference, const Table& queries,
                                 const DcrScale& scale);

namespace detail {
/// Tests: use the portable kernel even where AVX-512 is available. Returns the previous setting.
bool dcr_force_portable(bool on);
}  // namespace detail

}  // namespace rareforge::validation
