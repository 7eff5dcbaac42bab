// CSV reader and writer: format rules, inference, overrides, bad input, exact round trips,
// provenance, and the parallel parser against the single-threaded one.
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/io.h"
#include "core/rng.h"
#include "core/table.h"
#include "tests/test_util.h"

namespace rareforge {
namespace {

using test::TempDir;
using test::write_file;

CsvOptions no_target() {
  CsvOptions o;
  o.target = "-";
  return o;
}

Table read_text(const TempDir& dir, const std::string& text, const CsvOptions& opt = no_target()) {
  const std::string path = dir.file("in.csv");
  write_file(path, text);
  return read_csv(path, opt);
}

/// The InputError message read_csv throws for `text` (fails the test if it does not throw).
std::string read_error(const TempDir& dir, const std::string& text,
                       const CsvOptions& opt = no_target()) {
  const std::string path = dir.file("bad.csv");
  write_file(path, text);
  try {
    read_csv(path, opt);
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no InputError for:\n" << text;
  return "";
}

std::vector<std::string> cells(const Column& c) {
  std::vector<std::string> out;
  for (size_t i = 0; i < c.size(); ++i) out.push_back(c.is_missing(i) ? "<NA>" : c.cell_text(i));
  return out;
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof(double)) == 0; }

void expect_same_table(const Table& a, const Table& b) {
  ASSERT_EQ(a.schema(), b.schema());
  ASSERT_EQ(a.n_rows(), b.n_rows());
  for (size_t j = 0; j < a.n_cols(); ++j) {
    const Column& x = a.column(j);
    const Column& y = b.column(j);
    if (x.is_numeric()) {
      for (size_t i = 0; i < x.num.size(); ++i)
        ASSERT_TRUE(same_bits(x.num[i], y.num[i]) || (std::isnan(x.num[i]) && std::isnan(y.num[i])))
            << "column " << x.name() << " row " << i << ": " << x.num[i] << " vs " << y.num[i];
    } else {
      ASSERT_EQ(x.codes, y.codes) << "column " << x.name();
    }
  }
  const Provenance& p = a.provenance();
  const Provenance& q = b.provenance();
  ASSERT_EQ(p.empty(), q.empty());
  EXPECT_EQ(p.synthetic, q.synthetic);
  EXPECT_EQ(p.method, q.method);
  EXPECT_EQ(p.methods, q.methods);
  EXPECT_EQ(p.parent, q.parent);
  EXPECT_EQ(p.neighbor, q.neighbor);
  ASSERT_EQ(p.gap.size(), q.gap.size());
  for (size_t i = 0; i < p.gap.size(); ++i)
    EXPECT_TRUE(same_bits(p.gap[i], q.gap[i]) || (std::isnan(p.gap[i]) && std::isnan(q.gap[i])));
}

// --- format --------------------------------------------------------------------------------

TEST(CsvRead, InfersKindsAndKeepsFirstAppearanceOrder) {
  TempDir dir;
  const Table t = read_text(dir, "x,color,n\n1.5,red,1\n-2,blue,2\n3e2,red,3\n");
  ASSERT_EQ(t.n_cols(), 3u);
  ASSERT_EQ(t.n_rows(), 3u);
  EXPECT_TRUE(t.column(0).is_numeric());
  EXPECT_EQ(t.column(0).num, (std::vector<double>{1.5, -2, 300}));
  ASSERT_TRUE(t.column(1).is_categorical());
  EXPECT_EQ(t.column(1).categories(), (std::vector<std::string>{"red", "blue"}));
  EXPECT_EQ(t.column(1).codes, (std::vector<int32_t>{0, 1, 0}));
  EXPECT_TRUE(t.column(2).is_numeric());  // integers stay numeric
  EXPECT_FALSE(t.has_target());
}

TEST(CsvRead, QuotingFollowsRfc4180) {
  TempDir dir;
  const Table t = read_text(dir,
                            "name,\"odd, name\",v\n"
                            "\"a,b\",\"say \"\"hi\"\"\",1\n"
                            "\"two\nlines\",\"cr\r\nlf\",2\n"
                            "plain,\"  spaced  \",3\n");
  EXPECT_EQ(t.column(1).name(), "odd, name");
  EXPECT_EQ(cells(t.column(0)), (std::vector<std::string>{"a,b", "two\nlines", "plain"}));
  EXPECT_EQ(cells(t.column(1)), (std::vector<std::string>{"say \"hi\"", "cr\r\nlf", "  spaced  "}));
  EXPECT_EQ(t.column(2).num, (std::vector<double>{1, 2, 3}));
}

TEST(CsvRead, LineNumbersCountLinesInsideQuotedFields) {
  TempDir dir;
  const std::string msg = read_error(dir, "a,b\n\"x\ny\",1\n2,3,4\n");
  EXPECT_NE(msg.find("bad.csv:line 4 has 3 fields, the header has 2"), std::string::npos) << msg;
}

TEST(CsvRead, LineEndsBomTrailingNewlineAndBlankLines) {
  TempDir dir;
  const std::vector<double> want{1, 3};
  for (const std::string text :
       {"a,b\n1,2\n3,4\n", "a,b\r\n1,2\r\n3,4\r\n", "a,b\r1,2\r3,4\r", "a,b\n1,2\r\n3,4",
        "\xEF\xBB\xBF"
        "a,b\n1,2\n3,4\n",
        "\n\na,b\n\n1,2\n\r\n3,4\n\n\n"}) {
    const Table t = read_text(dir, text);
    ASSERT_EQ(t.n_cols(), 2u) << text;
    EXPECT_EQ(t.column(0).name(), "a");
    EXPECT_EQ(t.column(0).num, want) << text;
    EXPECT_EQ(t.column(1).num, (std::vector<double>{2, 4})) << text;
  }
}

TEST(CsvRead, TrimsUnquotedFieldsKeepsQuotedTextVerbatim) {
  TempDir dir;
  const Table t = read_text(dir, " a , b \n 1.5 , x \n\t2\t,\" y \"\n");
  EXPECT_EQ(t.column(0).name(), "a");
  EXPECT_EQ(t.column(1).name(), "b");
  EXPECT_EQ(t.column(0).num, (std::vector<double>{1.5, 2}));
  EXPECT_EQ(cells(t.column(1)), (std::vector<std::string>{"x", " y "}));
}

TEST(CsvRead, MissingTokensDefaultAndConfigurable) {
  TempDir dir;
  const std::string text = "a,b\n1,x\nNA,NA\n,?\nnull,y\n NaN ,\n-999,-999\n";
  const Table t = read_text(dir, text);
  EXPECT_EQ(cells(t.column(0)),
            (std::vector<std::string>{"1", "<NA>", "<NA>", "<NA>", "<NA>", "-999"}));
  EXPECT_EQ(cells(t.column(1)),
            (std::vector<std::string>{"x", "<NA>", "<NA>", "y", "<NA>", "-999"}));
  EXPECT_EQ(t.column(1).categories(), (std::vector<std::string>{"x", "y", "-999"}));

  CsvOptions opt = no_target();
  opt.missing_tokens = {"", "-999"};
  const Table u = read_text(dir, text, opt);
  EXPECT_TRUE(u.column(0).is_categorical());  // "NA", "null" are now text
  EXPECT_EQ(cells(u.column(0)),
            (std::vector<std::string>{"1", "NA", "<NA>", "null", "NaN", "<NA>"}));
  EXPECT_EQ(cells(u.column(1)), (std::vector<std::string>{"x", "NA", "?", "y", "<NA>", "<NA>"}));
  const Table v = read_text(dir, "a,b\n1,2\n-999,3\n", opt);
  EXPECT_EQ(cells(v.column(0)), (std::vector<std::string>{"1", "<NA>"}));
}

TEST(CsvRead, QuotedFieldsAreTextAndNeverMissing) {
  TempDir dir;
  const Table t = read_text(dir, "a,b,c\n\"NA\",\"1\",\"\"\nNA,2,x\n");
  EXPECT_EQ(cells(t.column(0)), (std::vector<std::string>{"NA", "<NA>"}));
  ASSERT_TRUE(t.column(1).is_categorical());  // a quoted number marks text
  EXPECT_EQ(t.column(1).categories(), (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(cells(t.column(2)), (std::vector<std::string>{"", "x"}));
}

TEST(CsvRead, NumberSyntax) {
  TempDir dir;
  const Table t = read_text(dir, "a\n+1.5\n1e-400\n4.9e-324\n-0\n1E5\n.5\n");
  const auto& v = t.column(0).num;
  ASSERT_TRUE(t.column(0).is_numeric());
  EXPECT_EQ(v[0], 1.5);
  EXPECT_EQ(v[1], 0.0);
  EXPECT_EQ(v[2], std::numeric_limits<double>::denorm_min());
  EXPECT_TRUE(std::signbit(v[3]));
  EXPECT_EQ(v[4], 1e5);
  EXPECT_EQ(v[5], 0.5);
  const Table w = read_text(dir, "a\n1\nnan\n-NAN\n");  // NaN literals are missing values
  EXPECT_EQ(cells(w.column(0)), (std::vector<std::string>{"1", "<NA>", "<NA>"}));
  for (const std::string bad : {"++1", "+-1", "1e", "0x10", "1,5", "1 2", "--1"}) {
    const Table u = read_text(dir, "a\n1\n\"" + bad + "\"\n");
    EXPECT_TRUE(u.column(0).is_categorical()) << bad;
  }
  for (const std::string bad : {"++1", "+-1", "1e", "0x10", "1 2", "--1", "1.2.3"}) {
    const Table u = read_text(dir, "a\n1\n" + bad + "\n");
    EXPECT_TRUE(u.column(0).is_categorical()) << bad;
  }
}

TEST(CsvRead, SingleColumnAndWhitespaceDelimiter) {
  TempDir dir;
  CsvOptions opt = no_target();
  opt.delimiter = '\t';
  const Table t = read_text(dir, "a\tb\n 1\tx y\n2\t\n", opt);
  EXPECT_EQ(t.column(0).num, (std::vector<double>{1, 2}));
  EXPECT_EQ(cells(t.column(1)), (std::vector<std::string>{"x y", "<NA>"}));
}

// --- overrides and target ------------------------------------------------------------------

TEST(CsvRead, CategoricalOverrideKeepsNumberText) {
  TempDir dir;
  CsvOptions opt = no_target();
  opt.categorical = {"zip"};
  const Table t = read_text(dir, "zip,v\n02134,1\n 90210 ,2\nNA,3\n02134,4\n", opt);
  ASSERT_TRUE(t.column(0).is_categorical());
  EXPECT_EQ(t.column(0).categories(), (std::vector<std::string>{"02134", "90210"}));
  EXPECT_EQ(t.column(0).codes, (std::vector<int32_t>{0, 1, -1, 0}));
}

TEST(CsvRead, NumericOverrideRejectsTextNamingLineAndColumn) {
  TempDir dir;
  CsvOptions opt = no_target();
  opt.numeric = {"v"};
  const Table t = read_text(dir, "v,w\n1,a\n\" 2 \",b\nNA,c\n", opt);
  EXPECT_EQ(cells(t.column(0)), (std::vector<std::string>{"1", "2", "<NA>"}));
  const std::string msg = read_error(dir, "v,w\n1,a\n2,b\n3x,c\n", opt);
  EXPECT_NE(msg.find("bad.csv:line 4, column 'v': '3x' is not a number"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--numeric"), std::string::npos) << msg;
}

TEST(CsvRead, UnknownOverrideColumnsNameTheFlag) {
  TempDir dir;
  CsvOptions opt = no_target();
  opt.categorical = {"a", "nope", "zilch"};
  std::string msg = read_error(dir, "a,b\n1,2\n", opt);
  EXPECT_NE(msg.find("--categorical: unknown columns 'nope', 'zilch'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("the columns are: a, b"), std::string::npos) << msg;
  opt = no_target();
  opt.numeric = {"c"};
  msg = read_error(dir, "a,b\n1,2\n", opt);
  EXPECT_NE(msg.find("--numeric: unknown column 'c'"), std::string::npos) << msg;
  opt.numeric = {"a"};
  opt.categorical = {"a"};
  msg = read_error(dir, "a,b\n1,2\n", opt);
  EXPECT_NE(msg.find("both --categorical and --numeric"), std::string::npos) << msg;
}

TEST(CsvRead, TargetDefaultsToLastColumn) {
  TempDir dir;
  const std::string text = "x,y,cls\n1,0,b\n2,1,a\n3,1,b\n";
  const Table t = read_text(dir, text, CsvOptions{});
  EXPECT_EQ(t.target(), "cls");
  EXPECT_EQ(t.class_names(), (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(t.labels(), (std::vector<int32_t>{0, 1, 0}));
  CsvOptions opt;
  opt.target = "y";
  const Table u = read_text(dir, text, opt);
  EXPECT_EQ(u.target(), "y");
  EXPECT_EQ(u.class_names(), (std::vector<std::string>{"0", "1"}));
  opt.target = "nope";
  const std::string msg = read_error(dir, text, opt);
  EXPECT_NE(msg.find("--target: unknown column 'nope'"), std::string::npos) << msg;
}

TEST(CsvRead, TargetWithOneClassOrMissingValueIsAnError) {
  TempDir dir;
  std::string msg = read_error(dir, "x,y\n1,a\n2,a\n", CsvOptions{});
  EXPECT_NE(msg.find("bad.csv: target column 'y' has only one class ('a'); a classification "
                     "table needs at least two"),
            std::string::npos)
      << msg;
  msg = read_error(dir, "x,y\n1,a\n2,b\n3,\n", CsvOptions{});
  EXPECT_NE(msg.find("bad.csv:line 4, column 'y'"), std::string::npos) << msg;
  // One class is accepted when asked (synthetic rows of one class, as validate reads them).
  const std::string one = dir.file("one.csv");
  test::write_file(one, "x,y\n1,a\n2,a\n");
  CsvOptions o;
  o.require_two_classes = false;
  const Table t = read_csv(one, o);
  EXPECT_EQ(t.target(), "y");
  EXPECT_EQ(t.class_names(), (std::vector<std::string>{"a"}));
  EXPECT_EQ(t.n_rows(), 2u);
}

// --- bad input -----------------------------------------------------------------------------

TEST(CsvRead, MissingFile) {
  TempDir dir;
  try {
    read_csv(dir.file("nope.csv"));
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot open '" + dir.file("nope.csv") +
                                         "': No such file or directory"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(read_csv(dir.path().string()), InputError);  // a directory
}

TEST(CsvRead, EmptyFileAndHeaderOnly) {
  TempDir dir;
  for (const std::string text : {"", "\xEF\xBB\xBF", "\n\r\n"}) {
    const std::string msg = read_error(dir, text);
    EXPECT_NE(msg.find("bad.csv: the file is empty"), std::string::npos) << msg;
  }
  for (const std::string text : {"a,b\n", "a,b", "a,b\n\n\n"}) {
    const std::string msg = read_error(dir, text);
    EXPECT_NE(msg.find("bad.csv: no data rows after the header (line 1)"), std::string::npos)
        << msg;
  }
}

TEST(CsvRead, RaggedRows) {
  TempDir dir;
  std::string msg = read_error(dir, "a,b,c\n1,2,3\n4,5\n");
  EXPECT_NE(msg.find("bad.csv:line 3 has 2 fields, the header has 3"), std::string::npos) << msg;
  msg = read_error(dir, "a,b\r\n1,2\r\n\r\n4,5,6,7\r\n");
  EXPECT_NE(msg.find("bad.csv:line 4 has 4 fields, the header has 2"), std::string::npos) << msg;
  msg = read_error(dir, "a,b\r1,2\r3\r");
  EXPECT_NE(msg.find("bad.csv:line 3 has 1 field, the header has 2"), std::string::npos) << msg;
}

TEST(CsvRead, UnterminatedQuoteNamesWhereItStarts) {
  TempDir dir;
  std::string msg = read_error(dir, "a,b\n1,2\n3,\"open\n4,5\n6,7\n");
  EXPECT_NE(msg.find("bad.csv:line 3, column 'b': unterminated quote starting at line 3"),
            std::string::npos)
      << msg;
  msg = read_error(dir, "a,b\n1,2,\"x\n");
  EXPECT_NE(msg.find("bad.csv:line 2, column 'extra field 3': unterminated quote"),
            std::string::npos)
      << msg;
  msg = read_error(dir, "a,\"b\n1,2\n");
  EXPECT_NE(msg.find("bad.csv:line 1: unterminated quote in the header"), std::string::npos) << msg;
  msg = read_error(dir, "a,b\n1,\"x\"y\n");
  EXPECT_NE(msg.find("bad.csv:line 2, column 'b': unexpected text after a closing quote"),
            std::string::npos)
      << msg;
}

TEST(CsvRead, DuplicateAndEmptyColumnNames) {
  TempDir dir;
  std::string msg = read_error(dir, "a,b,c,b\n1,2,3,4\n");
  EXPECT_NE(msg.find("bad.csv:line 1: duplicate column name 'b' (columns 2 and 4)"),
            std::string::npos)
      << msg;
  msg = read_error(dir, ",a,b\n0,1,2\n");
  EXPECT_NE(msg.find("bad.csv:line 1: column 1 has an empty name"), std::string::npos) << msg;
}

TEST(CsvRead, InfValuesAreAnError) {
  TempDir dir;
  for (const std::string v : {"inf", "-Infinity", "INF", "1e999"}) {
    const std::string msg = read_error(dir, "a,b\n1,2\n3," + v + "\n");
    EXPECT_NE(msg.find("bad.csv:line 3, column 'b': Inf value '" + v + "'"), std::string::npos)
        << msg;
  }
  // In a text column "inf" is just a category.
  const Table t = read_text(dir, "a\ninf\nabc\n");
  EXPECT_EQ(t.column(0).categories(), (std::vector<std::string>{"inf", "abc"}));
}

// --- writer and round trips ----------------------------------------------------------------

TEST(CsvWrite, TextMatchesFormatDoubleAndQuotesWhatNeedsIt) {
  TempDir dir;
  Table t;
  const std::vector<double> nums{0.1, -0.0, 1e21, std::nan(""), 123456789.125};
  t.add_column(Column::numeric("x", nums));
  t.add_column(Column::categorical(
      "c", {"plain", "NA", "", " pad", "a,b", "q\"q", "12", "nan", "two\nlines"}, {0, 1, 2, 3, 4}));
  t.add_column(Column::categorical("d", {"5", "+inf", "null", "?", "ok"}, {0, 1, 2, 3, -1}));
  const std::string path = dir.file("out.csv");
  write_csv(t, path);
  std::string want = "x,c,d\n";
  want += format_double(0.1) + ",plain,\"5\"\n";
  want += format_double(-0.0) + ",\"NA\",\"+inf\"\n";
  want += format_double(1e21) + ",\"\",\"null\"\n";
  want += ",\" pad\",\"?\"\n";
  want += format_double(123456789.125) + ",\"a,b\",\n";
  EXPECT_EQ(test::read_file(path), want);
  t.column(1).codes = {5, 6, 7, 8, -1};
  write_csv(t, path);
  const std::string text = test::read_file(path);
  EXPECT_NE(text.find(",\"q\"\"q\","), std::string::npos) << text;
  EXPECT_NE(text.find(",\"two\nlines\","), std::string::npos) << text;
}

TEST(CsvWrite, RoundTripIsBitExact) {
  TempDir dir;
  Rng rng(2024);
  const size_t n = 4000;
  std::vector<double> a(n), b(n);
  const std::vector<double> special{0.0,
                                    -0.0,
                                    1e308,
                                    -1e308,
                                    DBL_MAX,
                                    DBL_MIN,
                                    std::numeric_limits<double>::denorm_min(),
                                    -std::numeric_limits<double>::denorm_min(),
                                    2.2250738585072009e-308,  // largest subnormal
                                    0.1 + 0.2,                // needs 17 digits
                                    1.0 / 3.0,
                                    9007199254740993.0,
                                    123456789012345678.0,
                                    5e-324,
                                    std::nan("")};
  for (size_t i = 0; i < n; ++i) {
    uint64_t bits = rng.next();
    std::memcpy(&a[i], &bits, sizeof(double));
    if (!std::isfinite(a[i])) a[i] = static_cast<double>(bits >> 12);
    b[i] = i < special.size() ? special[i] : rng.uniform(-1e6, 1e6);
  }
  const std::vector<std::string> tricky{
      "NA",       "",    " lead", "trail ", "a,b", "quote\"inside", "\"",
      "cr\rlf\n", "1",   "+2",    "-0",     "nan", "Infinity",      "null",
      "?",        "NaN", "plain", "tab\t",  "été", "1e999"};
  std::vector<int32_t> codes(n);
  // Codes so that categories appear in list order first (the order read_csv gives back).
  for (size_t i = 0; i < n; ++i)
    codes[i] = i < tricky.size() ? static_cast<int32_t>(i)
                                 : static_cast<int32_t>(rng.uniform_int(tricky.size() + 1)) - 1;
  Table t;
  t.add_column(Column::numeric("bits", a));
  t.add_column(Column::numeric("special, \"named\"", b));
  t.add_column(Column::categorical("cat", tricky, codes));
  const std::string path = dir.file("rt.csv");
  write_csv(t, path);
  const Table u = read_csv(path, no_target());
  expect_same_table(t, u);
  // And once more through the writer: identical bytes.
  write_csv(u, dir.file("rt2.csv"));
  EXPECT_EQ(test::read_file(path), test::read_file(dir.file("rt2.csv")));
}

TEST(CsvWrite, OneColumnMissingCellsSurvive) {
  TempDir dir;
  Table t;
  t.add_column(Column::numeric("x", {1, std::nan(""), 3}));
  write_csv(t, dir.file("one.csv"));
  expect_same_table(t, read_csv(dir.file("one.csv"), no_target()));
}

TEST(CsvWrite, ProvenanceRoundTrip) {
  TempDir dir;
  Table t;
  t.add_column(Column::numeric("x", {0.5, 1.5, 2.5, 3.5}));
  t.add_column(Column::categorical("y", {"maj", "min"}, {0, 1, 1, 1}));
  t.set_target("y");
  Provenance& p = t.provenance();
  p = original_provenance(4);
  p.methods = {"smote:k=5", "NA", "1"};
  p.synthetic = {0, 1, 1, 1};
  p.method = {-1, 0, 1, 2};
  p.parent = {-1, 1, 2, 1};
  p.neighbor = {-1, 2, -1, 3};
  p.gap = {std::nan(""), 0.30000000000000004, std::nan(""), 5e-324};
  write_csv(t, dir.file("p.csv"));
  const std::string text = test::read_file(dir.file("p.csv"));
  EXPECT_EQ(text.substr(0, text.find('\n')), "x,y,__synthetic,__method,__parent,__neighbor,__gap");
  const Table u = read_csv(dir.file("p.csv"));
  EXPECT_EQ(u.n_cols(), 2u);
  EXPECT_EQ(u.target(), "y");
  expect_same_table(t, u);

  // Without provenance, no provenance columns.
  Table plain;
  plain.add_column(Column::numeric("x", {1, 2}));
  write_csv(plain, dir.file("plain.csv"));
  EXPECT_EQ(test::read_file(dir.file("plain.csv")), "x\n1\n2\n");
  EXPECT_TRUE(read_csv(dir.file("plain.csv"), no_target()).provenance().empty());

  const std::string msg = read_error(dir, "x,__synthetic,__parent\n1,0,-1\n2,1,0.5\n");
  EXPECT_NE(msg.find("bad.csv:line 3, column '__parent'"), std::string::npos) << msg;
}

TEST(CsvWrite, FailedWriteLeavesNoFile) {
  TempDir dir;
  Table t;
  t.add_column(Column::numeric("x", {1, 2}));
  EXPECT_THROW(write_csv(t, dir.file("no/such/dir/out.csv")), InputError);
  EXPECT_EQ(dir.n_entries(), 0u);
  Table bad;
  bad.add_column(Column::numeric("x", {1, std::numeric_limits<double>::infinity()}));
  EXPECT_THROW(write_csv(bad, dir.file("out.csv")), Error);
  EXPECT_EQ(dir.n_entries(), 0u);
  // An existing file is replaced only by a complete one.
  write_file(dir.file("keep.csv"), "old\n");
  EXPECT_THROW(write_csv(bad, dir.file("keep.csv")), Error);
  EXPECT_EQ(test::read_file(dir.file("keep.csv")), "old\n");
  EXPECT_EQ(dir.n_entries(), 1u);
}

// --- parallel parser -----------------------------------------------------------------------

/// A file of `n` rows mixing every kind of column; with `quotes`, some fields are quoted (the
/// sequential boundary scan path), and a few hold line breaks.
std::string make_big_csv(size_t n, bool quotes, bool crlf) {
  Rng rng(7);
  const char* eol = crlf ? "\r\n" : "\n";
  std::string s = std::string("num,int,cat,late_text,sparse,label") + eol;
  const char* colors[] = {"red", "green", "blue", "NA", ""};
  for (size_t i = 0; i < n; ++i) {
    s += format_double(rng.uniform(-100, 100)) + ",";
    s += std::to_string(rng.uniform_int(10)) + ",";
    const char* c = colors[rng.uniform_int(5)];
    if (quotes && i % 97 == 0)
      s += std::string("\"") + c + ", with\nbreak\",";
    else if (quotes && i % 13 == 0)
      s += std::string("\"") + c + "\",";
    else
      s += std::string(c) + ",";
    s += (i == n - 3 ? std::string("oops") : std::to_string(i)) + ",";
    s += (rng.uniform() < 0.1 ? format_double(rng.uniform()) : std::string("")) + ",";
    s += (i % 5 == 0 ? "yes" : "no");
    s += eol;
    if (i % 1000 == 999) s += eol;  // blank lines
  }
  return s;
}

TEST(CsvRead, HeadroomReservesRoomForRowsWithoutChangingTheTable) {
  TempDir dir;
  const std::string path = dir.file("big.csv");
  write_file(path, make_big_csv(50000, false, false));
  for (int threads : {1, 4}) {
    SCOPED_TRACE(threads);
    CsvOptions plain, room;
    plain.threads = room.threads = threads;
    room.headroom = 1.5;
    const Table a = read_csv(path, plain);
    const Table b = read_csv(path, room);
    expect_same_table(a, b);
    for (size_t j = 0; j < b.n_cols(); ++j) {
      const Column& c = b.column(j);
      if (c.name() == b.target()) continue;  // labels are re-coded (4 bytes a row, no room)
      SCOPED_TRACE(c.name());
      EXPECT_GE(c.is_numeric() ? c.num.capacity() : c.codes.capacity(), 125000u);
    }
  }
}

TEST(CsvRead, ParallelMatchesSingleThread) {
  TempDir dir;
  for (bool quotes : {false, true}) {
    for (bool crlf : {false, true}) {
      const std::string path = dir.file("big.csv");
      write_file(path, make_big_csv(50000, quotes, crlf));
      CsvOptions one;
      one.threads = 1;
      CsvOptions four;
      four.threads = 4;
      const Table a = read_csv(path, one);
      const Table b = read_csv(path, four);
      SCOPED_TRACE(::testing::Message() << "quotes=" << quotes << " crlf=" << crlf);
      ASSERT_EQ(a.n_rows(), 50000u);
      EXPECT_TRUE(a.column(0).is_numeric());
      EXPECT_TRUE(a.column(1).is_numeric());
      EXPECT_TRUE(a.column(2).is_categorical());
      EXPECT_TRUE(a.column(3).is_categorical());
      EXPECT_EQ(a.column(3).categories()[49997], "oops");
      EXPECT_TRUE(a.column(4).is_numeric());
      EXPECT_EQ(a.target(), "label");
      expect_same_table(a, b);
      // Round trip of the whole table.
      write_csv(b, dir.file("big_out.csv"));
      expect_same_table(a, read_csv(dir.file("big_out.csv"), four));
    }
  }
}

TEST(CsvRead, ParallelErrorsMatchSingleThread) {
  TempDir dir;
  std::string text = make_big_csv(50000, false, false);
  // Break a row three quarters into the file.
  const size_t at = text.find('\n', text.size() * 3 / 4) + 1;
  text.insert(at, "1,2\n");
  CsvOptions one;
  one.threads = 1;
  CsvOptions four;
  four.threads = 4;
  const std::string m1 = read_error(dir, text, one);
  const std::string m4 = read_error(dir, text, four);
  EXPECT_EQ(m1, m4);
  EXPECT_NE(m1.find("has 2 fields, the header has 6"), std::string::npos) << m1;
  size_t line = 1;
  for (size_t i = 0; i < at; ++i) line += text[i] == '\n';
  EXPECT_NE(m1.find("bad.csv:line " + std::to_string(line) + " "), std::string::npos) << m1;
}

}  // namespace
}  // namespace rareforge
