// The "rareforge.table" HDF5 layout (docs/FORMAT.md): read_hdf5 / write_hdf5 of core/io.h.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unordered_set>

#include "core/error.h"
#include "core/hdf5_util.h"
#include "core/io.h"

namespace rareforge {

namespace {

constexpr const char* kFormat = "rareforge.table";
constexpr int32_t kVersion = 1;

/// Link name of a column: '%' -> "%25", '/' -> "%2F", a leading '.' -> "%2E", "" -> "%". The
/// true name is the dataset's `name` attribute; the link name only has to be valid and unique.
std::string link_name(const std::string& name) {
  if (name.empty()) return "%";
  std::string out;
  out.reserve(name.size());
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (c == '%')
      out += "%25";
    else if (c == '/')
      out += "%2F";
    else if (c == '.' && i == 0)
      out += "%2E";
    else
      out += c;
  }
  return out;
}

std::string column_list(const Table& t) {
  std::string names;
  for (const auto& c : t.columns()) names += (names.empty() ? "" : ", ") + c.name();
  return names;
}

void check_strings(const std::string& path, const std::string& col,
                   const std::vector<std::string>& strings, const char* what) {
  for (const auto& s : strings)
    RF_CHECK_INPUT(s.find('\0') == std::string::npos,
                   "cannot write '{}': {} of column '{}' contains a NUL byte, which HDF5 strings "
                   "cannot hold",
                   path, what, col);
}

Column read_column(const std::string& path, const h5::Group& columns, const std::string& link,
                   int64_t n_rows, size_t capacity) {
  const h5::Dataset d = columns.open_dataset(link);
  const std::string name = d.has_attr("name") ? d.attr_str("name") : link;
  RF_CHECK_INPUT(d.rank() == 1, "{}: column '{}' ({}) is not one-dimensional", path, name,
                 d.path());
  const size_t n = d.size();
  RF_CHECK_INPUT(static_cast<int64_t>(n) == n_rows,
                 "{}: column '{}' has {} values but the table has n_rows = {}", path, name, n,
                 n_rows);
  const h5::TypeClass type = d.type_class();
  if (d.has_attr("categories")) {
    RF_CHECK_INPUT(type == h5::TypeClass::kInteger,
                   "{}: categorical column '{}' must hold integer codes, not {}", path, name,
                   type == h5::TypeClass::kFloat ? "floats" : "this type");
    std::vector<std::string> cats = d.attr_strs("categories");
    std::unordered_set<std::string> seen;
    for (const auto& c : cats)
      RF_CHECK_INPUT(seen.insert(c).second, "{}: column '{}' lists category '{}' twice", path, name,
                     c);
    std::vector<int32_t> codes = d.read_i32(capacity);
    const int32_t n_cats = static_cast<int32_t>(cats.size());
    for (size_t i = 0; i < codes.size(); ++i)
      RF_CHECK_INPUT(codes[i] >= -1 && codes[i] < n_cats,
                     "{}: column '{}' row {} has code {}, outside its {} categories (codes are "
                     "0..{}, -1 = missing)",
                     path, name, i + 1, codes[i], n_cats, n_cats - 1);
    return Column::categorical(name, std::move(cats), std::move(codes));
  }
  RF_CHECK_INPUT(type == h5::TypeClass::kFloat || type == h5::TypeClass::kInteger,
                 "{}: column '{}' ({}) is neither numeric nor integer codes with a `categories` "
                 "attribute",
                 path, name, d.path());
  return Column::numeric(name, d.read_f64(capacity));
}

Provenance read_provenance(const std::string& path, const h5::Group& g, int64_t n_rows) {
  const auto check_size = [&](const h5::Dataset& d) {
    RF_CHECK_INPUT(d.rank() == 1 && static_cast<int64_t>(d.size()) == n_rows,
                   "{}: {} has {} values but the table has n_rows = {}", path, d.path(), d.size(),
                   n_rows);
  };
  const size_t n = static_cast<size_t>(n_rows);
  Provenance p = original_provenance(n);
  RF_CHECK_INPUT(g.has("synthetic"), "{}: {} has no dataset 'synthetic'", path, g.path());
  {
    const h5::Dataset d = g.open_dataset("synthetic");
    check_size(d);
    p.synthetic = d.read_u8();
  }
  if (g.has("method")) {
    const h5::Dataset d = g.open_dataset("method");
    check_size(d);
    if (d.has_attr("methods")) p.methods = d.attr_strs("methods");
    p.method = d.read_i32();
    const int32_t n_methods = static_cast<int32_t>(p.methods.size());
    for (size_t i = 0; i < n; ++i)
      RF_CHECK_INPUT(p.method[i] >= -1 && p.method[i] < n_methods,
                     "{}: {} row {} is {}, outside its {} methods (-1 = original)", path, d.path(),
                     i + 1, p.method[i], n_methods);
  }
  if (g.has("parent")) {
    const h5::Dataset d = g.open_dataset("parent");
    check_size(d);
    p.parent = d.read_i64();
  }
  if (g.has("neighbor")) {
    const h5::Dataset d = g.open_dataset("neighbor");
    check_size(d);
    p.neighbor = d.read_i64();
  }
  if (g.has("gap")) {
    const h5::Dataset d = g.open_dataset("gap");
    check_size(d);
    p.gap = d.read_f64();
  }
  return p;
}

Table read_table_group(const std::string& path, const h5::File& f, const std::string& target,
                       double headroom, bool require_two_classes) {
  const bool is_table = f.has_group("table") && [&] {
    const h5::Group t = f.open_group("table");
    return t.has_attr("format") && t.attr_type("format") == h5::TypeClass::kString &&
           t.attr_str("format") == kFormat;
  }();
  RF_CHECK_INPUT(is_table,
                 "'{}' is an HDF5 file but not a rareforge table (no /table with format={}); "
                 "write one with `rareforge convert DATA.csv {}` (layout: docs/FORMAT.md)",
                 path, kFormat, path);
  const h5::Group t = f.open_group("table");
  const int64_t version = t.has_attr("version") ? t.attr_i64("version") : kVersion;
  RF_CHECK_INPUT(version <= kVersion,
                 "{}: table format version {} is newer than this rareforge reads ({}); "
                 "upgrade rareforge",
                 path, version, kVersion);
  RF_CHECK_INPUT(t.has_attr("n_rows"), "{}: /table has no attribute n_rows", path);
  const int64_t n_rows = t.attr_i64("n_rows");
  RF_CHECK_INPUT(n_rows >= 0, "{}: /table has n_rows = {}", path, n_rows);

  Table table;
  if (t.has("columns")) {
    const h5::Group cols = t.open_group("columns");
    const auto rows = static_cast<size_t>(n_rows);
    const size_t capacity =
        rows + static_cast<size_t>(std::max(0.0, headroom) * static_cast<double>(rows));
    for (const std::string& link : cols.links()) {
      Column c = read_column(path, cols, link, n_rows, capacity);
      RF_CHECK_INPUT(table.index_of(c.name()) < 0, "{}: column '{}' appears twice", path, c.name());
      table.add_column(std::move(c));
    }
  }
  RF_CHECK_INPUT(table.n_cols() > 0 || n_rows == 0, "{}: /table has n_rows = {} but no columns",
                 path, n_rows);
  if (t.has("provenance"))
    table.provenance() = read_provenance(path, t.open_group("provenance"), n_rows);

  const std::string stored = t.has_attr("target") ? t.attr_str("target") : "";
  if (target == "-") return table;  // "-" = no target, as in CsvOptions
  const std::string name = target.empty() ? stored : target;
  if (name.empty()) return table;
  if (table.index_of(name) < 0) {
    if (target.empty())
      RF_THROW_INPUT("{}: the stored target '{}' is not a column; the columns are: {}", path, name,
                     column_list(table));
    RF_THROW_INPUT("{}: --target: unknown column '{}'; the columns are: {}", path, name,
                   column_list(table));
  }
  try {
    table.set_target(name);
  } catch (const InputError& e) {
    throw InputError(path + ": " + e.what());
  }
  if (table.n_rows() > 0 && table.n_classes() < (require_two_classes ? 2u : 1u))
    RF_THROW_INPUT(
        "{}: target column '{}' has only one class ('{}'); a classification table needs at "
        "least two",
        path, name, table.class_names().empty() ? "" : table.class_names()[0]);
  return table;
}

}  // namespace

Table read_hdf5(const std::string& path, const std::string& target, double headroom,
                bool require_two_classes) {
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  RF_CHECK_INPUT(std::filesystem::exists(st), "cannot read '{}': no such file", path);
  RF_CHECK_INPUT(!std::filesystem::is_directory(st), "cannot read '{}': it is a directory", path);
  if (!h5::is_hdf5(path)) {
    std::ifstream probe(path, std::ios::binary);
    RF_CHECK_INPUT(probe.good(), "cannot read '{}': {}", path, std::strerror(errno));
    RF_THROW_INPUT("'{}' is not an HDF5 file (corrupt or another format)", path);
  }
  h5::File f = [&] {
    try {
      return h5::File::open(path);
    } catch (const h5::H5Error& e) {
      RF_THROW_INPUT("'{}' is a damaged HDF5 file (truncated or corrupt): {}", path, e.what());
    }
  }();
  try {
    Table t = read_table_group(path, f, target, headroom, require_two_classes);
    f.close();
    return t;
  } catch (const h5::H5Error& e) {
    RF_THROW_INPUT("{}: cannot read the table; the file may be truncated or damaged: {}", path,
                   e.what());
  }
}

void write_hdf5(const Table& table, const std::string& path) {
  const size_t n = table.n_rows();
  for (const auto& c : table.columns()) {
    check_strings(path, c.name(), {c.name()}, "the name");
    check_strings(path, c.name(), c.categories(), "a category");
  }
  const Provenance& prov = table.provenance();
  if (!prov.empty()) {
    RF_CHECK(prov.synthetic.size() == n && prov.method.size() == n && prov.parent.size() == n &&
                 prov.neighbor.size() == n && prov.gap.size() == n,
             "provenance has {} rows, table has {}", prov.synthetic.size(), n);
    for (const auto& m : prov.methods)
      RF_CHECK_INPUT(m.find('\0') == std::string::npos,
                     "cannot write '{}': a method name in the provenance contains a NUL byte",
                     path);
  }

  AtomicFile out(path);
  try {
    h5::File f = h5::File::create(out.temp_path());
    const h5::Group t = f.create_group("table");
    t.set_attr_str("format", kFormat);
    t.set_attr_i32("version", kVersion);
    t.set_attr_i64("n_rows", static_cast<int64_t>(n));
    t.set_attr_str("target", table.target());

    const h5::Group cols = t.create_group("columns", /*track_order=*/true);
    for (const auto& c : table.columns()) {
      const h5::Dataset d = c.is_numeric() ? cols.write(link_name(c.name()), c.num)
                                           : cols.write(link_name(c.name()), c.codes);
      d.set_attr_str("name", c.name());
      if (c.is_categorical()) d.set_attr_strs("categories", c.categories());
    }

    if (!prov.empty()) {
      const h5::Group p = t.create_group("provenance", /*track_order=*/true);
      p.write("synthetic", prov.synthetic);
      p.write("method", prov.method).set_attr_strs("methods", prov.methods);
      p.write("parent", prov.parent);
      p.write("neighbor", prov.neighbor);
      p.write("gap", prov.gap);
    }
    f.close();
  } catch (const h5::H5Error& e) {
    throw Error(fmt::format("cannot write '{}': {}", path, e.what()));
  }
  out.commit();
}

}  // namespace rareforge
