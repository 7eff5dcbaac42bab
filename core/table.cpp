#include "core/table.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <map>
#include <unordered_map>

#include "core/error.h"

namespace rareforge {

const char* to_string(ColumnKind kind) {
  return kind == ColumnKind::kNumeric ? "numeric" : "categorical";
}

std::string format_double(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  // Shortest digits that round-trip; fixed notation for decimal exponents in [-5, 16) as
  // Python's repr does (100000 -> "100000", not "1e+05"), scientific outside.
  char buf[400];
  auto sci = std::to_chars(buf, buf + sizeof(buf) - 1, v, std::chars_format::scientific);
  *sci.ptr = '\0';  // atoi below must stop at the exponent's end, not read stale stack bytes
  const char* e = std::find(buf, sci.ptr, 'e');
  const int exp10 = std::atoi(e + 1);
  if (exp10 < -5 || exp10 >= 16) return std::string(buf, sci.ptr);
  auto fix = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
  return std::string(buf, fix.ptr);
}

// --- Schema ------------------------------------------------------------------------------------

int Schema::index_of(const std::string& name) const {
  for (size_t j = 0; j < columns.size(); ++j)
    if (columns[j].name == name) return static_cast<int>(j);
  return -1;
}

bool Schema::operator==(const Schema& o) const {
  if (target != o.target || columns.size() != o.columns.size()) return false;
  for (size_t j = 0; j < columns.size(); ++j) {
    const auto& a = columns[j];
    const auto& b = o.columns[j];
    if (a.name != b.name || a.kind != b.kind || a.categories != b.categories) return false;
  }
  return true;
}

// --- Column ------------------------------------------------------------------------------------

bool Column::is_missing(size_t i) const { return is_numeric() ? std::isnan(num[i]) : codes[i] < 0; }

std::string Column::cell_text(size_t i) const {
  if (is_numeric()) return std::isnan(num[i]) ? std::string() : format_double(num[i]);
  return codes[i] < 0 ? std::string() : spec.categories[codes[i]];
}

Column Column::numeric(std::string name, std::vector<double> values) {
  Column c;
  c.spec.name = std::move(name);
  c.spec.kind = ColumnKind::kNumeric;
  c.num = std::move(values);
  return c;
}

Column Column::categorical(std::string name, std::vector<std::string> categories,
                           std::vector<int32_t> codes) {
  Column c;
  c.spec.name = std::move(name);
  c.spec.kind = ColumnKind::kCategorical;
  c.spec.categories = std::move(categories);
  for (int32_t code : codes)
    RF_CHECK(code >= -1 && code < static_cast<int32_t>(c.spec.categories.size()),
             "column '{}': code {} outside [-1, {})", c.spec.name, code, c.spec.categories.size());
  c.codes = std::move(codes);
  return c;
}

// --- Table -------------------------------------------------------------------------------------

size_t Table::n_rows() const { return columns_.empty() ? 0 : columns_.front().size(); }

int Table::index_of(const std::string& name) const {
  for (size_t j = 0; j < columns_.size(); ++j)
    if (columns_[j].name() == name) return static_cast<int>(j);
  return -1;
}

const Column& Table::column(const std::string& name) const {
  const int j = index_of(name);
  if (j < 0) {
    std::string names;
    for (const auto& c : columns_) names += (names.empty() ? "" : ", ") + c.name();
    RF_THROW_INPUT("unknown column '{}'; the columns are: {}", name, names);
  }
  return columns_[j];
}

void Table::add_column(Column c) {
  RF_CHECK(index_of(c.name()) < 0, "duplicate column '{}'", c.name());
  if (!columns_.empty())
    RF_CHECK(c.size() == n_rows(), "column '{}' has {} rows, table has {}", c.name(), c.size(),
             n_rows());
  if (!prov_.empty() && columns_.empty())
    RF_CHECK(prov_.synthetic.size() == c.size(), "provenance size mismatch");
  columns_.push_back(std::move(c));
}

void Table::set_column(size_t j, Column c) {
  RF_CHECK(j < columns_.size(), "column index {} out of range", j);
  RF_CHECK(c.size() == n_rows(), "column '{}' has {} rows, table has {}", c.name(), c.size(),
           n_rows());
  if (columns_[j].name() == target_) target_ = c.name();
  columns_[j] = std::move(c);
}

void Table::remove_column(size_t j) {
  RF_CHECK(j < columns_.size(), "column index {} out of range", j);
  RF_CHECK(columns_[j].name() != target_, "cannot remove the target column '{}'", target_);
  columns_.erase(columns_.begin() + static_cast<std::ptrdiff_t>(j));
}

void Table::set_target(const std::string& name) {
  const int j = index_of(name);
  if (j < 0) {
    std::string names;
    for (const auto& c : columns_) names += (names.empty() ? "" : ", ") + c.name();
    RF_THROW_INPUT("--target: unknown column '{}'; the columns are: {}", name, names);
  }
  Column& c = columns_[j];
  if (c.is_numeric()) {
    std::vector<double> distinct;
    for (size_t i = 0; i < c.num.size(); ++i) {
      RF_CHECK_INPUT(!std::isnan(c.num[i]),
                     "target column '{}' has a missing value in row {}; drop or fill those "
                     "rows first",
                     name, i + 1);
      distinct.push_back(c.num[i]);
    }
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    std::vector<std::string> cats;
    for (double v : distinct) cats.push_back(format_double(v));
    std::vector<int32_t> codes(c.num.size());
    for (size_t i = 0; i < c.num.size(); ++i)
      codes[i] = static_cast<int32_t>(std::lower_bound(distinct.begin(), distinct.end(), c.num[i]) -
                                      distinct.begin());
    c = Column::categorical(c.name(), std::move(cats), std::move(codes));
  } else {
    for (size_t i = 0; i < c.codes.size(); ++i)
      RF_CHECK_INPUT(c.codes[i] >= 0,
                     "target column '{}' has a missing value in row {}; drop or fill those "
                     "rows first",
                     name, i + 1);
  }
  target_ = name;
}

const std::vector<int32_t>& Table::labels() const {
  RF_CHECK(!target_.empty(), "table has no target column");
  return columns_[index_of(target_)].codes;
}

const std::vector<std::string>& Table::class_names() const {
  RF_CHECK(!target_.empty(), "table has no target column");
  return columns_[index_of(target_)].categories();
}

std::vector<int64_t> Table::class_counts() const {
  std::vector<int64_t> counts(n_classes(), 0);
  for (int32_t y : labels())
    if (y >= 0) ++counts[y];
  return counts;
}

std::vector<size_t> Table::feature_indices() const {
  std::vector<size_t> idx;
  for (size_t j = 0; j < columns_.size(); ++j)
    if (columns_[j].name() != target_) idx.push_back(j);
  return idx;
}

Schema Table::schema() const {
  Schema s;
  s.target = target_;
  for (const auto& c : columns_) s.columns.push_back(c.spec);
  return s;
}

Provenance original_provenance(size_t n) {
  Provenance p;
  p.synthetic.assign(n, 0);
  p.method.assign(n, -1);
  p.parent.assign(n, -1);
  p.neighbor.assign(n, -1);
  p.gap.assign(n, std::nan(""));
  return p;
}

void Table::ensure_provenance() {
  if (prov_.empty()) prov_ = original_provenance(n_rows());
}

size_t Table::n_synthetic() const {
  size_t n = 0;
  for (uint8_t s : prov_.synthetic) n += s != 0;
  return n;
}

Table Table::select(const std::vector<size_t>& rows) const {
  Table out;
  out.target_ = target_;
  const size_t n = n_rows();
  for (size_t r : rows) RF_CHECK(r < n, "row {} out of range ({} rows)", r, n);
  out.columns_.reserve(columns_.size());
  for (const auto& c : columns_) {
    Column d;
    d.spec = c.spec;
    if (c.is_numeric()) {
      d.num.resize(rows.size());
      for (size_t i = 0; i < rows.size(); ++i) d.num[i] = c.num[rows[i]];
    } else {
      d.codes.resize(rows.size());
      for (size_t i = 0; i < rows.size(); ++i) d.codes[i] = c.codes[rows[i]];
    }
    out.columns_.push_back(std::move(d));
  }
  if (!prov_.empty()) {
    Provenance& p = out.prov_;
    p.methods = prov_.methods;
    p.synthetic.resize(rows.size());
    p.method.resize(rows.size());
    p.parent.resize(rows.size());
    p.neighbor.resize(rows.size());
    p.gap.resize(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      p.synthetic[i] = prov_.synthetic[rows[i]];
      p.method[i] = prov_.method[rows[i]];
      p.parent[i] = prov_.parent[rows[i]];
      p.neighbor[i] = prov_.neighbor[rows[i]];
      p.gap[i] = prov_.gap[rows[i]];
    }
  }
  return out;
}

Table Table::empty_like() const { return select({}); }

Table Table::concat(const Table& a, const Table& b) {
  RF_CHECK(a.n_cols() == b.n_cols(), "concat: {} vs {} columns", a.n_cols(), b.n_cols());
  Table out = a;
  for (size_t j = 0; j < a.n_cols(); ++j) {
    const Column& cb = b.columns_[j];
    Column& co = out.columns_[j];
    RF_CHECK(co.name() == cb.name() && co.kind() == cb.kind(),
             "concat: column {} is '{}' ({}) vs '{}' ({})", j, co.name(), to_string(co.kind()),
             cb.name(), to_string(cb.kind()));
    if (co.is_numeric()) {
      co.num.insert(co.num.end(), cb.num.begin(), cb.num.end());
    } else {
      std::vector<int32_t> remap(cb.categories().size());
      std::unordered_map<std::string, int32_t> lookup;
      for (size_t k = 0; k < co.spec.categories.size(); ++k)
        lookup.emplace(co.spec.categories[k], static_cast<int32_t>(k));
      for (size_t k = 0; k < cb.categories().size(); ++k) {
        auto it = lookup.find(cb.categories()[k]);
        if (it == lookup.end()) {
          co.spec.categories.push_back(cb.categories()[k]);
          it = lookup
                   .emplace(cb.categories()[k], static_cast<int32_t>(co.spec.categories.size() - 1))
                   .first;
        }
        remap[k] = it->second;
      }
      co.codes.reserve(co.codes.size() + cb.codes.size());
      for (int32_t c : cb.codes) co.codes.push_back(c < 0 ? -1 : remap[c]);
    }
  }
  if (!a.prov_.empty() || !b.prov_.empty()) {
    Provenance& p = out.prov_;
    p = a.prov_;
    if (p.empty()) p = original_provenance(a.n_rows());
    const Provenance q = b.prov_.empty() ? original_provenance(b.n_rows()) : b.prov_;
    std::vector<int32_t> mremap(q.methods.size());
    for (size_t k = 0; k < q.methods.size(); ++k) {
      auto it = std::find(p.methods.begin(), p.methods.end(), q.methods[k]);
      if (it == p.methods.end()) {
        p.methods.push_back(q.methods[k]);
        mremap[k] = static_cast<int32_t>(p.methods.size() - 1);
      } else {
        mremap[k] = static_cast<int32_t>(it - p.methods.begin());
      }
    }
    p.synthetic.insert(p.synthetic.end(), q.synthetic.begin(), q.synthetic.end());
    for (int32_t m : q.method) p.method.push_back(m < 0 ? -1 : mremap[m]);
    p.parent.insert(p.parent.end(), q.parent.begin(), q.parent.end());
    p.neighbor.insert(p.neighbor.end(), q.neighbor.begin(), q.neighbor.end());
    p.gap.insert(p.gap.end(), q.gap.begin(), q.gap.end());
  }
  return out;
}

MatrixRM Table::to_dense(const DenseOptions& opt, std::vector<std::string>* names) const {
  std::vector<size_t> cols;
  for (size_t j = 0; j < columns_.size(); ++j)
    if (opt.include_target || columns_[j].name() != target_) cols.push_back(j);
  size_t width = 0;
  for (size_t j : cols) {
    const Column& c = columns_[j];
    width += (c.is_categorical() && opt.encoding == Encoding::kOneHot) ? c.categories().size() : 1;
  }
  const size_t n = n_rows();
  MatrixRM m = MatrixRM::Zero(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(width));
  if (names) names->clear();
  Eigen::Index off = 0;
  for (size_t j : cols) {
    const Column& c = columns_[j];
    if (c.is_numeric()) {
      for (size_t i = 0; i < n; ++i) m(i, off) = c.num[i];
      if (names) names->push_back(c.name());
      ++off;
    } else if (opt.encoding == Encoding::kOrdinal) {
      for (size_t i = 0; i < n; ++i)
        m(i, off) = c.codes[i] < 0 ? std::nan("") : static_cast<double>(c.codes[i]);
      if (names) names->push_back(c.name());
      ++off;
    } else {
      for (size_t i = 0; i < n; ++i)
        if (c.codes[i] >= 0) m(i, off + c.codes[i]) = 1.0;
      if (names)
        for (const auto& cat : c.categories()) names->push_back(c.name() + "=" + cat);
      off += static_cast<Eigen::Index>(c.categories().size());
    }
  }
  return m;
}

}  // namespace rareforge
