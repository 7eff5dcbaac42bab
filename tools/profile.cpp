#include "tools/profile.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <unordered_set>

#include <fmt/format.h>

namespace rareforge::cli {

namespace {

double nan() { return std::numeric_limits<double>::quiet_NaN(); }

// Median with numpy's rule (mean of the two middle values for an even count).
double median_of(std::vector<double> v) {  // by value: nth_element reorders
  if (v.empty()) return nan();
  const size_t m = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(m), v.end());
  const double hi = v[m];
  if (v.size() % 2 == 1) return hi;
  const double lo = *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(m));
  return lo + (hi - lo) / 2.0;
}

void profile_numeric(const Column& c, ColumnProfile& p) {
  std::vector<double> v;
  v.reserve(c.num.size());
  for (double x : c.num)
    if (!std::isnan(x)) v.push_back(x);
  p.missing = static_cast<int64_t>(c.num.size() - v.size());
  if (v.empty()) {
    p.mean = p.median = p.std = p.min = p.max = p.skew = nan();
    p.constant = true;
    return;
  }
  // Two-pass moments for accuracy; std is the sample std (ddof=1, as pandas), skew the adjusted
  // Fisher–Pearson coefficient (as pandas' Series.skew).
  const double n = static_cast<double>(v.size());
  double sum = 0;
  for (double x : v) sum += x;
  const double mean = sum / n;
  double m2 = 0, m3 = 0;
  for (double x : v) {
    const double d = x - mean;
    m2 += d * d;
    m3 += d * d * d;
  }
  p.mean = mean;
  p.std = v.size() > 1 ? std::sqrt(m2 / (n - 1)) : nan();
  if (v.size() > 2 && m2 > 0) {
    const double g1 = (m3 / n) / std::pow(m2 / n, 1.5);
    p.skew = g1 * std::sqrt(n * (n - 1)) / (n - 2);
  } else {
    p.skew = v.size() > 2 ? 0.0 : nan();
  }
  const auto [mn, mx] = std::minmax_element(v.begin(), v.end());
  p.min = *mn;
  p.max = *mx;
  p.median = median_of(v);
  std::sort(v.begin(), v.end());
  p.distinct = static_cast<int64_t>(std::unique(v.begin(), v.end()) - v.begin());
  p.constant = p.distinct <= 1;
}

void profile_categorical(const Column& c, ColumnProfile& p) {
  std::vector<int64_t> counts(c.categories().size(), 0);
  for (int32_t code : c.codes) {
    if (code < 0)
      ++p.missing;
    else
      ++counts[code];
  }
  std::vector<size_t> order(counts.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return counts[a] > counts[b]; });
  for (size_t k = 0; k < counts.size(); ++k) p.distinct += counts[k] > 0;
  for (size_t r = 0; r < order.size() && r < 5 && counts[order[r]] > 0; ++r)
    p.top.emplace_back(c.categories()[order[r]], counts[order[r]]);
  p.constant = p.distinct <= 1;
  p.mean = p.median = p.std = p.min = p.max = p.skew = nan();
}

// Rows equal to an earlier row, comparing the bit patterns of every cell (NaN equals NaN, as
// pandas' duplicated()).
int64_t count_duplicate_rows(const Table& t) {
  const size_t n = t.n_rows();
  auto cell_bits = [&](size_t j, size_t i) -> uint64_t {
    const Column& c = t.column(j);
    if (c.is_numeric()) {
      double x = c.num[i];
      if (std::isnan(x)) return 0x7ff8000000000001ULL;
      if (x == 0.0) x = 0.0;  // -0.0 == 0.0
      uint64_t b;
      std::memcpy(&b, &x, sizeof b);
      return b;
    }
    return static_cast<uint64_t>(static_cast<int64_t>(c.codes[i]));
  };
  std::vector<uint64_t> hash(n, 1469598103934665603ULL);
  for (size_t j = 0; j < t.n_cols(); ++j)
    for (size_t i = 0; i < n; ++i) {
      uint64_t h = hash[i] ^ cell_bits(j, i);
      h *= 0x100000001B3ULL;
      hash[i] = h ^ (h >> 29);
    }
  std::vector<size_t> idx(n);
  for (size_t i = 0; i < n; ++i) idx[i] = i;
  std::sort(idx.begin(), idx.end(),
            [&](size_t a, size_t b) { return hash[a] != hash[b] ? hash[a] < hash[b] : a < b; });
  int64_t dup = 0;
  for (size_t s = 0; s < n;) {
    size_t e = s + 1;
    while (e < n && hash[idx[e]] == hash[idx[s]]) ++e;
    // Within a hash group, a row is a duplicate if it equals any earlier row of the group.
    for (size_t a = s + 1; a < e; ++a) {
      for (size_t b = s; b < a; ++b) {
        bool same = true;
        for (size_t j = 0; j < t.n_cols() && same; ++j)
          same = cell_bits(j, idx[a]) == cell_bits(j, idx[b]);
        if (same) {
          ++dup;
          break;
        }
      }
    }
    s = e;
  }
  return dup;
}

std::string num_text(double v) {
  if (std::isnan(v)) return "-";
  return fmt::format("{:.6g}", v);
}

nlohmann::json num_json(double v) {
  if (std::isnan(v)) return nullptr;
  return v;
}

}  // namespace

TableProfile profile_table(const Table& t, const std::string& path) {
  TableProfile p;
  p.path = path;
  p.rows = static_cast<int64_t>(t.n_rows());
  p.target = t.target();
  for (const auto& c : t.columns()) {
    ColumnProfile cp;
    cp.name = c.name();
    cp.kind = c.kind();
    cp.is_target = c.name() == t.target();
    if (c.is_numeric())
      profile_numeric(c, cp);
    else
      profile_categorical(c, cp);
    if (cp.constant) p.constant_columns.push_back(cp.name);
    p.columns.push_back(std::move(cp));
  }
  if (t.has_target()) {
    const auto counts = t.class_counts();
    int64_t mx = 0, mn = std::numeric_limits<int64_t>::max();
    for (size_t k = 0; k < counts.size(); ++k) {
      p.classes.emplace_back(t.class_names()[k], counts[k]);
      if (counts[k] > 0) {
        mx = std::max(mx, counts[k]);
        mn = std::min(mn, counts[k]);
      }
    }
    p.imbalance_ratio = mn > 0 && mn != std::numeric_limits<int64_t>::max()
                            ? static_cast<double>(mx) / static_cast<double>(mn)
                            : nan();
  }
  p.duplicate_rows = count_duplicate_rows(t);
  return p;
}

nlohmann::json to_json(const TableProfile& p) {
  nlohmann::json j;
  j["path"] = p.path;
  j["rows"] = p.rows;
  j["n_columns"] = p.columns.size();
  j["target"] = p.target.empty() ? nlohmann::json(nullptr) : nlohmann::json(p.target);
  auto& cols = j["columns"] = nlohmann::json::array();
  for (const auto& c : p.columns) {
    nlohmann::json cj;
    cj["name"] = c.name;
    cj["kind"] = to_string(c.kind);
    cj["is_target"] = c.is_target;
    cj["missing"] = c.missing;
    cj["distinct"] = c.distinct;
    cj["constant"] = c.constant;
    if (c.kind == ColumnKind::kNumeric) {
      cj["mean"] = num_json(c.mean);
      cj["median"] = num_json(c.median);
      cj["std"] = num_json(c.std);
      cj["min"] = num_json(c.min);
      cj["max"] = num_json(c.max);
      cj["skew"] = num_json(c.skew);
    } else {
      auto& top = cj["top"] = nlohmann::json::array();
      for (const auto& [name, n] : c.top) top.push_back({{"value", name}, {"count", n}});
    }
    cols.push_back(std::move(cj));
  }
  auto& cls = j["classes"] = nlohmann::json::array();
  for (const auto& [name, n] : p.classes) cls.push_back({{"class", name}, {"count", n}});
  j["imbalance_ratio"] = p.classes.empty() ? nlohmann::json(nullptr) : num_json(p.imbalance_ratio);
  j["duplicate_rows"] = p.duplicate_rows;
  j["constant_columns"] = p.constant_columns;
  return j;
}

std::string to_text(const TableProfile& p) {
  std::string s = fmt::format("{}: {} rows, {} columns", p.path, p.rows, p.columns.size());
  s += p.target.empty() ? ", no target\n" : fmt::format(", target '{}'\n", p.target);
  if (!p.classes.empty()) {
    s += "\nclasses (imbalance ratio " + num_text(p.imbalance_ratio) + ":1)\n";
    for (const auto& [name, n] : p.classes)
      s += fmt::format("  {:<24} {:>10}  {:6.2f}%\n", name, n,
                       p.rows ? 100.0 * static_cast<double>(n) / static_cast<double>(p.rows) : 0.0);
  }
  size_t w = 6;
  for (const auto& c : p.columns) w = std::max(w, c.name.size());
  s += fmt::format("\nnumeric columns\n  {:<{}}  {:>8} {:>12} {:>12} {:>12} {:>12} {:>12} {:>8}\n",
                   "column", w, "missing", "mean", "median", "std", "min", "max", "skew");
  for (const auto& c : p.columns)
    if (c.kind == ColumnKind::kNumeric)
      s += fmt::format("  {:<{}}  {:>8} {:>12} {:>12} {:>12} {:>12} {:>12} {:>8}\n", c.name, w,
                       c.missing, num_text(c.mean), num_text(c.median), num_text(c.std),
                       num_text(c.min), num_text(c.max), num_text(c.skew));
  s += fmt::format("\ncategorical columns\n  {:<{}}  {:>8} {:>8}  top values\n", "column", w,
                   "missing", "levels");
  for (const auto& c : p.columns)
    if (c.kind == ColumnKind::kCategorical) {
      std::string top;
      for (const auto& [name, n] : c.top)
        top += fmt::format("{}{} ({})", top.empty() ? "" : ", ", name, n);
      s += fmt::format("  {:<{}}  {:>8} {:>8}  {}{}\n", c.name, w, c.missing, c.distinct, top,
                       c.is_target ? "  [target]" : "");
    }
  s += fmt::format("\nduplicate rows: {}\n", p.duplicate_rows);
  std::string consts;
  for (const auto& c : p.constant_columns) consts += (consts.empty() ? "" : ", ") + c;
  s += "constant columns: " + (consts.empty() ? std::string("none") : consts) + "\n";
  return s;
}

}  // namespace rareforge::cli
