// HDF5 table layout (core/hdf5.cpp) and the h5:: wrappers (core/hdf5_util.h).
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <thread>

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/hdf5_util.h"
#include "core/io.h"
#include "tests/test_util.h"

namespace rareforge {
namespace {

using test::TempDir;

const double kNaN = std::numeric_limits<double>::quiet_NaN();

/// Bit equality for numbers, "both NaN" for NaN (HDF5 need not keep a NaN's payload).
bool same_double(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::memcmp(&a, &b, sizeof(double)) == 0;
}

void expect_same_tables(const Table& a, const Table& b) {
  ASSERT_EQ(a.n_cols(), b.n_cols());
  ASSERT_EQ(a.n_rows(), b.n_rows());
  EXPECT_EQ(a.target(), b.target());
  EXPECT_TRUE(a.schema() == b.schema());
  for (size_t j = 0; j < a.n_cols(); ++j) {
    const Column& x = a.column(j);
    const Column& y = b.column(j);
    EXPECT_EQ(x.name(), y.name()) << "column " << j;
    EXPECT_EQ(x.kind(), y.kind()) << x.name();
    EXPECT_EQ(x.categories(), y.categories()) << x.name();
    EXPECT_EQ(x.codes, y.codes) << x.name();
    ASSERT_EQ(x.num.size(), y.num.size()) << x.name();
    for (size_t i = 0; i < x.num.size(); ++i)
      EXPECT_TRUE(same_double(x.num[i], y.num[i]))
          << x.name() << " row " << i << ": " << x.num[i] << " vs " << y.num[i];
  }
  const Provenance& p = a.provenance();
  const Provenance& q = b.provenance();
  EXPECT_EQ(p.synthetic, q.synthetic);
  EXPECT_EQ(p.method, q.method);
  EXPECT_EQ(p.methods, q.methods);
  EXPECT_EQ(p.parent, q.parent);
  EXPECT_EQ(p.neighbor, q.neighbor);
  ASSERT_EQ(p.gap.size(), q.gap.size());
  for (size_t i = 0; i < p.gap.size(); ++i) EXPECT_TRUE(same_double(p.gap[i], q.gap[i])) << i;
}

Table sample_table() {
  Table t;
  t.add_column(Column::numeric("x", {1.0, -0.0, kNaN, std::numeric_limits<double>::infinity(),
                                     0.1 + 0.2, std::numeric_limits<double>::denorm_min(),
                                     -std::numeric_limits<double>::max(), 1e-300}));
  t.add_column(
      Column::categorical("city", {"Zürich", "東京", "", "a,b \"q\""}, {0, 1, 2, 3, -1, 0, 1, 2}));
  t.add_column(Column::categorical("y", {"no", "yes"}, {0, 1, 0, 1, 0, 0, 1, 0}));
  t.set_target("y");
  return t;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("NOT AN InputError: ") + e.what();
  }
  return "NO ERROR";
}

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << (haystack)

// --- round trips -------------------------------------------------------------------------------

TEST(Hdf5Table, RoundTripKeepsValuesBitForBit) {
  TempDir dir;
  const Table t = sample_table();
  write_hdf5(t, dir.file("t.h5"));
  const Table r = read_hdf5(dir.file("t.h5"));
  expect_same_tables(t, r);
  EXPECT_TRUE(r.provenance().empty());
  EXPECT_EQ(r.class_names(), (std::vector<std::string>{"no", "yes"}));
  EXPECT_EQ(dir.n_entries(), 1u);  // no temporary file left
}

TEST(Hdf5Table, HeadroomReservesRoomForRowsWithoutChangingTheTable) {
  TempDir dir;
  const Table t = sample_table();
  write_hdf5(t, dir.file("t.h5"));
  const Table r = read_hdf5(dir.file("t.h5"), "", 2.0);
  expect_same_tables(t, r);
  for (const Column& c : r.columns())
    EXPECT_GE(c.is_numeric() ? c.num.capacity() : c.codes.capacity(), 3 * t.n_rows()) << c.name();
  // read_table passes CsvOptions::headroom on to HDF5 input.
  CsvOptions o;
  o.headroom = 1.0;
  const Table q = read_table(dir.file("t.h5"), o);
  expect_same_tables(t, q);
  EXPECT_GE(q.column(0).num.capacity(), 2 * t.n_rows());
}

TEST(Hdf5Table, SameTableGivesByteIdenticalFilesAcrossSeconds) {
  // HDF5 stamps object headers with modification times unless told not to; a file written a
  // second later must still be byte-identical (same seed, same input => same output).
  TempDir dir;
  Table t = sample_table();
  Provenance& p = t.provenance();
  p = original_provenance(t.n_rows());
  p.methods = {"smote:k=5"};
  p.synthetic[3] = 1;
  p.method[3] = 0;
  write_hdf5(t, dir.file("a.h5"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  write_hdf5(t, dir.file("b.h5"));
  EXPECT_TRUE(test::read_file(dir.file("a.h5")) == test::read_file(dir.file("b.h5")));
}

TEST(Hdf5Table, ColumnOrderAndAwkwardNamesAreKept) {
  TempDir dir;
  // Names sort differently from their order and include HDF5's path separator and dots.
  const std::vector<std::string> names = {"zeta", "alpha", "b/c", "a.b", ".", ".hidden",
                                          "50%",  "50%2F", "M",   "",    "/", "Ünïcode"};
  Table t;
  for (size_t j = 0; j < names.size(); ++j)
    t.add_column(Column::numeric(names[j], {double(j), double(j) + 0.5}));
  t.add_column(Column::categorical("label/class", {"b", "a"}, {0, 1}));
  t.set_target("label/class");
  write_hdf5(t, dir.file("order.h5"));
  const Table r = read_hdf5(dir.file("order.h5"));
  expect_same_tables(t, r);
  EXPECT_EQ(r.target(), "label/class");

  // The link names are the escaped names, in creation order.
  h5::File f = h5::File::open(dir.file("order.h5"));
  const auto links = f.open_group("table").open_group("columns").links();
  ASSERT_EQ(links.size(), names.size() + 1);
  EXPECT_EQ(links[0], "zeta");
  EXPECT_EQ(links[2], "b%2Fc");
  EXPECT_EQ(links[4], "%2E");
  EXPECT_EQ(links[5], "%2Ehidden");
  EXPECT_EQ(links[6], "50%25");
  EXPECT_EQ(links[7], "50%252F");
  EXPECT_EQ(links[9], "%");
  EXPECT_EQ(links[10], "%2F");
}

TEST(Hdf5Table, ProvenanceRoundTrip) {
  TempDir dir;
  Table t = sample_table();
  Provenance& p = t.provenance();
  p = original_provenance(t.n_rows());
  p.methods = {"smote:k=5", "adasyn"};
  p.synthetic[5] = p.synthetic[6] = p.synthetic[7] = 1;
  p.method[5] = 0;
  p.method[6] = 0;
  p.method[7] = 1;
  p.parent[5] = 1;
  p.neighbor[5] = 3;
  p.gap[5] = 0.25;
  p.parent[6] = 3;
  p.neighbor[6] = int64_t(1) << 40;  // beyond int32
  p.gap[6] = 1.0 / 3.0;
  p.parent[7] = 2;
  write_hdf5(t, dir.file("p.h5"));
  const Table r = read_hdf5(dir.file("p.h5"));
  expect_same_tables(t, r);
  EXPECT_EQ(r.n_synthetic(), 3u);

  h5::File f = h5::File::open(dir.file("p.h5"));
  const h5::Group g = f.open_group("table").open_group("provenance");
  EXPECT_EQ(g.links(),
            (std::vector<std::string>{"synthetic", "method", "parent", "neighbor", "gap"}));
  EXPECT_EQ(g.open_dataset("method").attr_strs("methods"), p.methods);
}

TEST(Hdf5Table, NoProvenanceGroupWhenTableHasNone) {
  TempDir dir;
  write_hdf5(sample_table(), dir.file("t.h5"));
  h5::File f = h5::File::open(dir.file("t.h5"));
  const h5::Group t = f.open_group("table");
  EXPECT_FALSE(t.has("provenance"));
  EXPECT_EQ(t.attr_str("format"), "rareforge.table");
  EXPECT_EQ(t.attr_i64("version"), 1);
  EXPECT_EQ(t.attr_i64("n_rows"), 8);
  EXPECT_EQ(t.attr_str("target"), "y");
  const h5::Group c = t.open_group("columns");
  EXPECT_EQ(c.open_dataset("x").type_class(), h5::TypeClass::kFloat);
  EXPECT_EQ(c.open_dataset("city").type_class(), h5::TypeClass::kInteger);
  EXPECT_EQ(c.open_dataset("city").attr_strs("categories"),
            (std::vector<std::string>{"Zürich", "東京", "", "a,b \"q\""}));
  EXPECT_FALSE(c.open_dataset("x").has_attr("categories"));
}

TEST(Hdf5Table, EmptyTablesRoundTrip) {
  TempDir dir;
  const Table t = sample_table().empty_like();
  ASSERT_EQ(t.n_rows(), 0u);
  write_hdf5(t, dir.file("empty.h5"));
  const Table r = read_hdf5(dir.file("empty.h5"));
  expect_same_tables(t, r);
  EXPECT_EQ(r.class_names(), (std::vector<std::string>{"no", "yes"}));

  // Provenance of zero rows is empty (Provenance::empty()), so none is written.
  Table with_prov = t;
  with_prov.ensure_provenance();
  write_hdf5(with_prov, dir.file("empty_prov.h5"));
  expect_same_tables(with_prov, read_hdf5(dir.file("empty_prov.h5")));

  write_hdf5(Table(), dir.file("nothing.h5"));
  const Table none = read_hdf5(dir.file("nothing.h5"));
  EXPECT_EQ(none.n_cols(), 0u);
  EXPECT_EQ(none.n_rows(), 0u);
  EXPECT_FALSE(none.has_target());
}

TEST(Hdf5Table, NoTargetAndTargetOverride) {
  TempDir dir;
  Table t;
  t.add_column(Column::numeric("a", {1, 2, 3}));
  t.add_column(Column::numeric("cls", {7, 3, 7}));
  t.add_column(Column::categorical("g", {"u", "v"}, {1, 0, 0}));
  write_hdf5(t, dir.file("t.h5"));
  EXPECT_FALSE(read_hdf5(dir.file("t.h5")).has_target());

  const Table r = read_hdf5(dir.file("t.h5"), "cls");  // numeric target -> classes
  EXPECT_EQ(r.target(), "cls");
  EXPECT_EQ(r.class_names(), (std::vector<std::string>{"3", "7"}));
  EXPECT_EQ(r.labels(), (std::vector<int32_t>{1, 0, 1}));

  write_hdf5(r, dir.file("r.h5"));
  EXPECT_EQ(read_hdf5(dir.file("r.h5")).target(), "cls");
  EXPECT_EQ(read_hdf5(dir.file("r.h5"), "g").target(), "g");  // override the stored one
  EXPECT_FALSE(read_hdf5(dir.file("r.h5"), "-").has_target());
}

TEST(Hdf5Table, ManyCategoriesExceedTheCompactAttributeLimit) {
  // 30000 categories of ~20 bytes: far above the 64 KiB limit of a compact attribute.
  TempDir dir;
  std::vector<std::string> cats;
  std::vector<int32_t> codes;
  for (int i = 0; i < 30000; ++i) {
    cats.push_back("category-number-" + std::to_string(i));
    codes.push_back(29999 - i);
  }
  Table t;
  t.add_column(Column::categorical("id", cats, codes));
  write_hdf5(t, dir.file("wide.h5"));
  expect_same_tables(t, read_hdf5(dir.file("wide.h5")));
}

TEST(Hdf5Table, ReadTableDispatchesOnExtension) {
  TempDir dir;
  Table t;
  t.add_column(Column::categorical("g", {"u", "v"}, {1, 0, 0}));
  t.add_column(Column::categorical("y", {"a", "b"}, {0, 1, 1}));
  t.set_target("y");
  write_table(t, dir.file("t.hdf5"));
  EXPECT_EQ(read_table(dir.file("t.hdf5")).target(), "y");
  CsvOptions opt;
  opt.target = "g";
  const Table r = read_table(dir.file("t.hdf5"), opt);
  EXPECT_EQ(r.target(), "g");
  EXPECT_EQ(r.labels(), (std::vector<int32_t>{1, 0, 0}));
}

// --- write failures ----------------------------------------------------------------------------

TEST(Hdf5Table, FailedWritesLeaveNothingBehind) {
  TempDir dir;
  // Target directory missing.
  EXPECT_CONTAINS(error_of([&] { write_hdf5(sample_table(), dir.file("no/such/dir/t.h5")); }),
                  "does not exist");
  EXPECT_EQ(dir.n_entries(), 0u);

  // The final rename fails (the target is a directory): the temporary file is removed.
  std::filesystem::create_directory(dir.file("out.h5"));
  EXPECT_THROW(write_hdf5(sample_table(), dir.file("out.h5")), Error);
  EXPECT_EQ(dir.n_entries(), 1u);

  // A string HDF5 cannot hold: the existing file is left as it was.
  test::write_file(dir.file("keep.h5"), "old");
  Table bad;
  bad.add_column(Column::categorical("c", {std::string("a\0b", 3)}, {0}));
  EXPECT_CONTAINS(error_of([&] { write_hdf5(bad, dir.file("keep.h5")); }), "NUL byte");
  EXPECT_EQ(test::read_file(dir.file("keep.h5")), "old");
  EXPECT_EQ(dir.n_entries(), 2u);
}

// --- read errors -------------------------------------------------------------------------------

/// Write a /table group by hand: `columns` filled by `fill`.
template <class Fill>
void write_raw(const std::string& path, int64_t n_rows, const std::string& target, Fill fill,
               const std::string& format = "rareforge.table") {
  h5::File f = h5::File::create(path);
  const h5::Group t = f.create_group("table");
  t.set_attr_str("format", format);
  t.set_attr_i32("version", 1);
  t.set_attr_i64("n_rows", n_rows);
  t.set_attr_str("target", target);
  fill(t.create_group("columns", true));
  f.close();
}

TEST(Hdf5Table, MissingAndForeignFilesAreInputErrors) {
  TempDir dir;
  EXPECT_CONTAINS(error_of([&] { read_hdf5(dir.file("absent.h5")); }),
                  "cannot read '" + dir.file("absent.h5") + "': no such file");
  EXPECT_CONTAINS(error_of([&] { read_hdf5(dir.path().string()); }), "is a directory");

  test::write_file(dir.file("text.h5"), "a,b\n1,2\n");
  EXPECT_CONTAINS(error_of([&] { read_hdf5(dir.file("text.h5")); }),
                  "'" + dir.file("text.h5") + "' is not an HDF5 file (corrupt or another format)");
  test::write_file(dir.file("zero.h5"), "");
  EXPECT_CONTAINS(error_of([&] { read_hdf5(dir.file("zero.h5")); }), "is not an HDF5 file");

  {
    h5::File f = h5::File::create(dir.file("other.h5"));
    f.create_group("data").set_attr_str("format", "something");
    f.close();
  }
  EXPECT_CONTAINS(error_of([&] { read_hdf5(dir.file("other.h5")); }),
                  "'" + dir.file("other.h5") +
                      "' is an HDF5 file but not a rareforge table (no /table with "
                      "format=rareforge.table)");

  write_raw(
      dir.file("wrongformat.h5"), 0, "", [](const h5::Group&) {}, "pandas.table");
  EXPECT_CONTAINS(error_of([&] { read_hdf5(dir.file("wrongformat.h5")); }),
                  "is an HDF5 file but not a rareforge table");
}

TEST(Hdf5Table, InconsistentContentsAreInputErrors) {
  TempDir dir;
  const std::string len = dir.file("len.h5");
  write_raw(len, 3, "", [](const h5::Group& c) {
    c.write("a", std::vector<double>{1, 2, 3}).set_attr_str("name", "a");
    c.write("b", std::vector<double>{1, 2}).set_attr_str("name", "b");
  });
  EXPECT_CONTAINS(error_of([&] { read_hdf5(len); }),
                  len + ": column 'b' has 2 values but the table has n_rows = 3");

  const std::string codes = dir.file("codes.h5");
  write_raw(codes, 3, "", [](const h5::Group& c) {
    c.write("k", std::vector<int32_t>{0, -1, 2})
        .set_attr_str("name", "k")
        .set_attr_strs("categories", {"p", "q"});
  });
  EXPECT_CONTAINS(error_of([&] { read_hdf5(codes); }),
                  codes + ": column 'k' row 3 has code 2, outside its 2 categories");

  const std::string low = dir.file("low.h5");
  write_raw(low, 1, "", [](const h5::Group& c) {
    c.write("k", std::vector<int32_t>{-2}).set_attr_strs("categories", {"p"});
  });
  EXPECT_CONTAINS(error_of([&] { read_hdf5(low); }), "row 1 has code -2");

  const std::string target = dir.file("target.h5");
  write_raw(target, 2, "label", [](const h5::Group& c) {
    c.write("a", std::vector<double>{1, 2}).set_attr_str("name", "a");
  });
  EXPECT_CONTAINS(error_of([&] { read_hdf5(target); }),
                  target + ": the stored target 'label' is not a column; the columns are: a");
  EXPECT_CONTAINS(error_of([&] { read_hdf5(target, "nope"); }),
                  target + ": --target: unknown column 'nope'");
  EXPECT_EQ(read_hdf5(target, "a").target(), "a");  // the override wins

  const std::string one = dir.file("one.h5");
  write_raw(one, 3, "y", [](const h5::Group& c) {
    c.write("y", std::vector<int32_t>{0, 0, 0})
        .set_attr_str("name", "y")
        .set_attr_strs("categories", {"v"});
  });
  EXPECT_CONTAINS(error_of([&] { read_hdf5(one); }),
                  one +
                      ": target column 'y' has only one class ('v'); a classification table "
                      "needs at least two");
  EXPECT_EQ(read_hdf5(one, "", 0.0, /*require_two_classes=*/false).n_classes(), 1u);

  const std::string missing_target = dir.file("mt.h5");
  write_raw(missing_target, 2, "y", [](const h5::Group& c) {
    c.write("y", std::vector<int32_t>{0, -1}).set_attr_strs("categories", {"v", "w"});
  });
  EXPECT_CONTAINS(error_of([&] { read_hdf5(missing_target); }),
                  missing_target + ": target column 'y' has a missing value in row 2");

  const std::string nocols = dir.file("nocols.h5");
  write_raw(nocols, 4, "", [](const h5::Group&) {});
  EXPECT_CONTAINS(error_of([&] { read_hdf5(nocols); }), "n_rows = 4 but no columns");

  const std::string strings = dir.file("strings.h5");
  write_raw(strings, 1, "", [](const h5::Group& c) { c.write_strings("s", {"text"}); });
  EXPECT_CONTAINS(error_of([&] { read_hdf5(strings); }), "column 's'");

  const std::string prov = dir.file("prov.h5");
  {
    h5::File f = h5::File::create(prov);
    const h5::Group t = f.create_group("table");
    t.set_attr_str("format", "rareforge.table");
    t.set_attr_i64("n_rows", 2);
    t.create_group("columns").write("a", std::vector<double>{1, 2});
    const h5::Group p = t.create_group("provenance");
    p.write("synthetic", std::vector<uint8_t>{0, 1});
    p.write("method", std::vector<int32_t>{-1, 1}).set_attr_strs("methods", {"smote"});
    f.close();
  }
  EXPECT_CONTAINS(error_of([&] { read_hdf5(prov); }), "outside its 1 methods");
}

TEST(Hdf5Table, ReadsTablesWrittenByOtherTools) {
  // Integer columns without categories are numeric; a missing `name` attribute means the link
  // name; a group without creation order is read in name order; a missing version is 1.
  TempDir dir;
  const std::string path = dir.file("other.h5");
  {
    h5::File f = h5::File::create(path);
    const h5::Group t = f.create_group("table");
    t.set_attr_str("format", "rareforge.table");
    t.set_attr_i32("n_rows", 2);
    const h5::Group c = t.create_group("columns");
    c.write("z", std::vector<int64_t>{5, -6});
    c.write("a", std::vector<float>{0.5f, 1.5f});
    f.close();
  }
  const Table r = read_hdf5(path);
  ASSERT_EQ(r.n_cols(), 2u);
  EXPECT_EQ(r.column(0).name(), "a");
  EXPECT_EQ(r.column(0).num, (std::vector<double>{0.5, 1.5}));
  EXPECT_EQ(r.column(1).name(), "z");
  EXPECT_EQ(r.column(1).num, (std::vector<double>{5, -6}));
  EXPECT_FALSE(r.has_target());
}

TEST(Hdf5Table, TruncatedFilesAreCleanInputErrors) {
  TempDir dir;
  Table t;
  std::vector<double> v(20000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = double(i) * 0.5;
  t.add_column(Column::numeric("v", v));
  t.add_column(Column::categorical("c", {"a", "b"}, std::vector<int32_t>(v.size(), 1)));
  t.ensure_provenance();
  const std::string full = dir.file("full.h5");
  write_hdf5(t, full);
  const std::string bytes = test::read_file(full);
  ASSERT_GT(bytes.size(), 100000u);
  for (size_t k : {1, 2, 4, 8, 12, 15}) {
    const size_t cut = bytes.size() * k / 16;
    const std::string part = dir.file("part" + std::to_string(k) + ".h5");
    test::write_file(part, bytes.substr(0, cut));
    const std::string err = error_of([&] { read_hdf5(part); });
    EXPECT_CONTAINS(err, part) << "cut at " << cut << " of " << bytes.size();
    EXPECT_EQ(err.find("NOT AN InputError"), std::string::npos) << err;
    EXPECT_EQ(err.find("NO ERROR"), std::string::npos) << "cut at " << cut;
  }
  const std::string half = dir.file("half.h5");
  test::write_file(half, bytes.substr(0, bytes.size() / 2));
  EXPECT_CONTAINS(error_of([&] { read_hdf5(half); }), "truncated");
}

TEST(Hdf5Table, HdfErrorStackIsNotPrinted) {
  TempDir dir;
  test::write_file(dir.file("half.h5"), "\x89HDF\r\n\x1a\n" + std::string(100, '\0'));
  testing::internal::CaptureStderr();
  EXPECT_THROW(read_hdf5(dir.file("half.h5")), InputError);
  EXPECT_THROW(h5::File::open(dir.file("absent.h5")), h5::H5Error);
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

// --- h5:: wrappers -----------------------------------------------------------------------------

TEST(Hdf5Util, AttributesRoundTripAndReplace) {
  TempDir dir;
  const std::string path = dir.file("a.h5");
  {
    h5::File f = h5::File::create(path);
    const h5::Group g = f.create_group("g");
    g.set_attr_i64("i", -(int64_t(1) << 50))
        .set_attr_i32("j", 7)
        .set_attr_f64("f", 0.1)
        .set_attr_str("s", "héllo")
        .set_attr_str("empty", "")
        .set_attr_strs("ss", {"a", "", "ü"})
        .set_attr_strs("none", {})
        .set_attr_f64s("fs", {1.5, kNaN})
        .set_attr_i64s("is", {1, -2, 3});
    g.set_attr_i32("j", 8);  // replace
    f.set_attr_str("root", "r");
    EXPECT_THROW(g.set_attr_str("nul", std::string("a\0b", 3)), h5::H5Error);
    f.close();
  }
  h5::File f = h5::File::open(path);
  const h5::Group g = f.open_group("g");
  EXPECT_EQ(g.path(), "/g");
  EXPECT_EQ(g.attr_i64("i"), -(int64_t(1) << 50));
  EXPECT_EQ(g.attr_i64("j"), 8);
  EXPECT_EQ(g.attr_f64("j"), 8.0);
  EXPECT_EQ(g.attr_f64("f"), 0.1);
  EXPECT_EQ(g.attr_str("s"), "héllo");
  EXPECT_EQ(g.attr_str("empty"), "");
  EXPECT_EQ(g.attr_strs("ss"), (std::vector<std::string>{"a", "", "ü"}));
  EXPECT_TRUE(g.attr_strs("none").empty());
  const auto fs = g.attr_f64s("fs");
  ASSERT_EQ(fs.size(), 2u);
  EXPECT_EQ(fs[0], 1.5);
  EXPECT_TRUE(std::isnan(fs[1]));
  EXPECT_EQ(g.attr_i64s("is"), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(g.attr_type("s"), h5::TypeClass::kString);
  EXPECT_EQ(g.attr_type("fs"), h5::TypeClass::kFloat);
  EXPECT_EQ(f.attr_str("root"), "r");
  EXPECT_FALSE(g.has_attr("nul"));
  // Wrong kind or count, or absent: H5Error naming the attribute and the object.
  EXPECT_THROW(g.attr_i64("s"), h5::H5Error);
  EXPECT_THROW(g.attr_str("i"), h5::H5Error);
  EXPECT_THROW(g.attr_i64("is"), h5::H5Error);
  try {
    g.attr_str("absent");
    FAIL();
  } catch (const h5::H5Error& e) {
    EXPECT_CONTAINS(e.what(), "attribute 'absent' of /g");
  }
}

TEST(Hdf5Util, DatasetsGroupsAndLinks) {
  TempDir dir;
  const std::string path = dir.file("d.h5");
  std::vector<int32_t> codes(100000);
  for (size_t i = 0; i < codes.size(); ++i) codes[i] = int32_t(i % 7) - 1;
  {
    h5::File f = h5::File::create(path);
    const h5::Group g = f.create_group("ordered", true);
    g.write("z", std::vector<double>{1, 2});
    g.write("a", std::vector<int64_t>{3});
    g.write("m", std::vector<uint8_t>{});
    g.write("codes", codes, h5::DatasetOptions{4, 4096});
    g.write_strings("s", {"x", "", "ÿ"});
    const h5::Group u = f.create_group("unordered");
    u.write("z", std::vector<double>{});
    u.write("a", std::vector<double>{});
    u.create_group("m");
    EXPECT_THROW(u.create_group("m"), h5::H5Error);
    f.close();
  }
  h5::File f = h5::File::open(path);
  const h5::Group g = f.open_group("ordered");
  EXPECT_EQ(g.links(), (std::vector<std::string>{"z", "a", "m", "codes", "s"}));
  EXPECT_EQ(f.open_group("unordered").links(), (std::vector<std::string>{"a", "m", "z"}));
  EXPECT_TRUE(f.has_group("ordered"));
  EXPECT_FALSE(g.has_group("z"));
  EXPECT_TRUE(g.has("z"));
  EXPECT_FALSE(g.has("nope"));
  EXPECT_FALSE(g.has("a/b"));
  EXPECT_EQ(g.open_dataset("z").read_f64(), (std::vector<double>{1, 2}));
  EXPECT_EQ(g.open_dataset("a").read_i64(), (std::vector<int64_t>{3}));
  EXPECT_EQ(g.open_dataset("a").read_f64(), (std::vector<double>{3}));
  EXPECT_EQ(g.open_dataset("m").size(), 0u);
  EXPECT_TRUE(g.open_dataset("m").read_u8().empty());
  EXPECT_EQ(g.open_dataset("codes").read_i32(), codes);
  EXPECT_EQ(g.open_dataset("codes").rank(), 1);
  EXPECT_EQ(g.open_dataset("s").read_strings(), (std::vector<std::string>{"x", "", "ÿ"}));
  EXPECT_EQ(g.open_dataset("s").type_class(), h5::TypeClass::kString);
  EXPECT_THROW(g.open_dataset("s").read_f64(), h5::H5Error);
  EXPECT_THROW(g.open_dataset("nope"), h5::H5Error);
  EXPECT_THROW(f.open_group("nope"), h5::H5Error);
  // The compressed dataset is smaller than its raw 400 kB.
  EXPECT_LT(std::filesystem::file_size(path), 100000u);
}

TEST(Hdf5Util, IsHdf5ChecksTheSignature) {
  TempDir dir;
  EXPECT_FALSE(h5::is_hdf5(dir.file("absent")));
  test::write_file(dir.file("short"), "\x89HD");
  EXPECT_FALSE(h5::is_hdf5(dir.file("short")));
  h5::File::create(dir.file("real.h5")).close();
  EXPECT_TRUE(h5::is_hdf5(dir.file("real.h5")));
  // After a 512-byte user block.
  test::write_file(dir.file("ub.h5"), std::string(512, 'u') + test::read_file(dir.file("real.h5")));
  EXPECT_TRUE(h5::is_hdf5(dir.file("ub.h5")));
}

}  // namespace
}  // namespace rareforge
