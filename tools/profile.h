// Profile of a table, as `rareforge inspect` prints it: per-column kind, missing count, numeric
// statistics (mean, median, std, min, max, skew), top categories; class counts and imbalance
// ratio; duplicate rows; constant columns.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/table.h"

namespace rareforge::cli {

struct ColumnProfile {
  std::string name;
  ColumnKind kind = ColumnKind::kNumeric;
  bool is_target = false;
  int64_t missing = 0;
  int64_t distinct = 0;   ///< distinct non-missing values
  bool constant = false;  ///< at most one distinct non-missing value
  // numeric (NaN when no value)
  double mean = 0, median = 0, std = 0, min = 0, max = 0, skew = 0;
  // categorical: up to 5 most frequent categories with counts (ties: category order)
  std::vector<std::pair<std::string, int64_t>> top;
};

struct TableProfile {
  std::string path;
  int64_t rows = 0;
  std::vector<ColumnProfile> columns;
  std::string target;
  std::vector<std::pair<std::string, int64_t>> classes;  ///< in class order
  double imbalance_ratio = 0;                            ///< majority count / minority count
  int64_t duplicate_rows = 0;  ///< rows equal to an earlier row (all columns)
  std::vector<std::string> constant_columns;
};

TableProfile profile_table(const Table& t, const std::string& path);
nlohmann::json to_json(const TableProfile& p);
/// Human-readable report (several aligned blocks).
std::string to_text(const TableProfile& p);

}  // namespace rareforge::cli
