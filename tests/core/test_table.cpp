#include <cmath>

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/table.h"

namespace rareforge {
namespace {

Table small_table() {
  Table t;
  t.add_column(Column::numeric("x", {1.0, 2.5, std::nan(""), -4.0}));
  t.add_column(Column::categorical("color", {"red", "green", "blue"}, {0, 2, -1, 1}));
  t.add_column(Column::categorical("y", {"a", "b"}, {0, 1, 1, 0}));
  t.set_target("y");
  return t;
}

TEST(Table, BasicShapeAndClasses) {
  Table t = small_table();
  EXPECT_EQ(t.n_rows(), 4u);
  EXPECT_EQ(t.n_cols(), 3u);
  EXPECT_EQ(t.target_index(), 2);
  EXPECT_EQ(t.class_counts(), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(t.feature_indices(), (std::vector<size_t>{0, 1}));
  EXPECT_TRUE(t.column(0).is_missing(2));
  EXPECT_TRUE(t.column(1).is_missing(2));
  EXPECT_EQ(t.column(1).cell_text(1), "blue");
  EXPECT_EQ(t.column(0).cell_text(1), "2.5");
}

TEST(Table, UnknownColumnAndTargetAreInputErrors) {
  Table t = small_table();
  EXPECT_THROW(t.column("nope"), InputError);
  try {
    t.set_target("nope");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("x, color, y"), std::string::npos) << e.what();
  }
}

TEST(Table, NumericTargetBecomesClassesInNumericOrder) {
  Table t;
  t.add_column(Column::numeric("f", {0, 0, 0, 0}));
  t.add_column(Column::numeric("label", {10, 2, 10, -1}));
  t.set_target("label");
  EXPECT_EQ(t.class_names(), (std::vector<std::string>{"-1", "2", "10"}));
  EXPECT_EQ(t.labels(), (std::vector<int32_t>{2, 1, 2, 0}));
}

TEST(Table, MissingTargetIsAnError) {
  Table t;
  t.add_column(Column::numeric("label", {1, std::nan("")}));
  EXPECT_THROW(t.set_target("label"), InputError);
}

TEST(Table, SelectKeepsCategoriesAndOrder) {
  Table t = small_table();
  Table s = t.select({3, 0, 0});
  ASSERT_EQ(s.n_rows(), 3u);
  EXPECT_EQ(s.column(0).num, (std::vector<double>{-4.0, 1.0, 1.0}));
  EXPECT_EQ(s.column(1).codes, (std::vector<int32_t>{1, 0, 0}));
  EXPECT_EQ(s.column(1).categories(), t.column(1).categories());
  EXPECT_EQ(s.schema(), t.schema());
  EXPECT_EQ(t.empty_like().n_rows(), 0u);
}

TEST(Table, ConcatRemapsCategoriesAndMergesProvenance) {
  Table a = small_table();
  Table b;
  b.add_column(Column::numeric("x", {7.0}));
  b.add_column(Column::categorical("color", {"purple", "red"}, {1}));
  b.add_column(Column::categorical("y", {"b", "a"}, {0}));
  b.set_target("y");
  b.ensure_provenance();
  b.provenance().synthetic[0] = 1;
  b.provenance().methods = {"smote:k=5"};
  b.provenance().method[0] = 0;
  b.provenance().parent[0] = 3;
  Table c = Table::concat(a, b);
  ASSERT_EQ(c.n_rows(), 5u);
  EXPECT_EQ(c.column(1).categories(), (std::vector<std::string>{"red", "green", "blue", "purple"}));
  EXPECT_EQ(c.column(1).codes[4], 0);  // "red" in a's list
  EXPECT_EQ(c.labels()[4], 1);         // "b" in a's class list
  EXPECT_EQ(c.provenance().synthetic, (std::vector<uint8_t>{0, 0, 0, 0, 1}));
  EXPECT_EQ(c.provenance().methods, (std::vector<std::string>{"smote:k=5"}));
  EXPECT_EQ(c.provenance().method[4], 0);
  EXPECT_EQ(c.provenance().parent[4], 3);
  EXPECT_EQ(c.n_synthetic(), 1u);
}

TEST(Table, DenseOneHotAndOrdinal) {
  Table t = small_table();
  std::vector<std::string> names;
  MatrixRM m = t.to_dense(Table::DenseOptions{}, &names);
  ASSERT_EQ(m.rows(), 4);
  ASSERT_EQ(m.cols(), 4);
  EXPECT_EQ(names, (std::vector<std::string>{"x", "color=red", "color=green", "color=blue"}));
  EXPECT_EQ(m(1, 0), 2.5);
  EXPECT_EQ(m(1, 3), 1.0);
  EXPECT_EQ(m(2, 1) + m(2, 2) + m(2, 3), 0.0);  // missing category: all-zero block
  Table::DenseOptions ord;
  ord.encoding = Table::Encoding::kOrdinal;
  ord.include_target = true;
  MatrixRM o = t.to_dense(ord, &names);
  ASSERT_EQ(o.cols(), 3);
  EXPECT_EQ(o(1, 1), 2.0);
  EXPECT_TRUE(std::isnan(o(2, 1)));
  EXPECT_EQ(o(1, 2), 1.0);
}

TEST(Table, FormatDoubleIsShortestExact) {
  EXPECT_EQ(format_double(0.1), "0.1");
  EXPECT_EQ(format_double(1e300), "1e+300");
  EXPECT_EQ(format_double(100000), "100000");
  EXPECT_EQ(format_double(1e15), "1000000000000000");
  EXPECT_EQ(format_double(1e16), "1e+16");
  EXPECT_EQ(format_double(0.00001), "0.00001");
  EXPECT_EQ(format_double(1e-6), "1e-06");
  EXPECT_EQ(format_double(13.8166666666667), "13.8166666666667");
  EXPECT_EQ(format_double(-0.0), "-0");
  const double v = 0.1 + 0.2;
  EXPECT_EQ(std::stod(format_double(v)), v);
}

}  // namespace
}  // namespace rareforge
