// core/generator.h: registry, checkpoint header, resample_with_generator — with a fake
// generator (no LibTorch) that returns copies of the class's first training row.
#include <fstream>

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/generator.h"
#include "core/io.h"
#include "tests/test_util.h"

namespace rareforge {
namespace {

class CopyFirstRow : public Generator {
 public:
  explicit CopyFirstRow(std::string spec) : Generator(std::move(spec)) {}
  void fit(const Table& train, const Context&, bool) override {
    train_ = train;
    train_.provenance() = {};
    ++fits;
  }
  Table sample(int64_t n, const std::string& cls, const Conditions& where,
               const Context&) const override {
    RF_CHECK_INPUT(where.empty(), "copy: no conditions");
    const auto& names = train_.class_names();
    const auto it = std::find(names.begin(), names.end(), cls);
    RF_CHECK_INPUT(it != names.end(), "copy: unknown class '{}'", cls);
    const int32_t c = static_cast<int32_t>(it - names.begin());
    size_t first = 0;
    while (train_.labels()[first] != c) ++first;
    Table t = train_.select(std::vector<size_t>(static_cast<size_t>(n), first));
    Provenance& p = t.provenance();
    p = original_provenance(t.n_rows());
    p.methods = {spec()};
    std::fill(p.synthetic.begin(), p.synthetic.end(), 1);
    std::fill(p.method.begin(), p.method.end(), 0);
    std::fill(p.parent.begin(), p.parent.end(), -1);
    return t;
  }
  void save(const std::string&) const override {}
  void load(const std::string&, const Context&) override {}
  bool fitted() const override { return train_.n_cols() > 0; }
  const Schema& schema() const override { return schema_; }
  int fits = 0;

 private:
  Table train_;
  Schema schema_;
};

void register_fake() {
  GeneratorInfo info;
  info.name = "copy-first";
  info.description = "test double";
  info.params = {int_param("epochs", "3", 1, 100, "unused")};
  info.create = [](const ParamValues&, const std::string& canonical) {
    return std::unique_ptr<Generator>(new CopyFirstRow(canonical));
  };
  register_generator(info);
}

Table toy() {
  Table t;
  t.add_column(Column::numeric("x", {1, 2, 3, 4, 5, 6, 7}));
  t.add_column(Column::categorical("y", {"a", "b", "c"}, {0, 0, 0, 0, 1, 1, 2}));
  t.set_target("y");
  return t;
}

TEST(Generator, RegistryAndSpecs) {
  register_fake();
  register_fake();  // replaces, does not duplicate
  int n = 0;
  for (const auto& g : generator_registry()) n += g.name == "copy-first";
  EXPECT_EQ(n, 1);
  auto g = make_generator("copy-first:epochs=5");
  EXPECT_EQ(g->spec(), "copy-first:epochs=5");
  try {
    make_generator("ctgna");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("valid generators: "), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("copy-first"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make_generator("copy-first:epochs=0"), InputError);
}

TEST(Generator, ResampleFillsThePlanExactlyWithProvenance) {
  register_fake();
  auto g = make_generator("copy-first");
  const Table t = toy();
  std::vector<int64_t> made;
  const Table out = resample_with_generator(*g, t, "auto", std::nullopt, Context{}, &made);
  EXPECT_EQ(made, (std::vector<int64_t>{0, 2, 3}));
  ASSERT_EQ(out.n_rows(), 12u);
  EXPECT_EQ(out.class_counts(), (std::vector<int64_t>{4, 4, 4}));
  const Provenance& p = out.provenance();
  for (size_t i = 0; i < 7; ++i) {
    EXPECT_EQ(p.synthetic[i], 0);
    EXPECT_EQ(p.parent[i], static_cast<int64_t>(i));
  }
  for (size_t i = 7; i < 12; ++i) {
    EXPECT_EQ(p.synthetic[i], 1);
    EXPECT_EQ(p.methods[static_cast<size_t>(p.method[i])], "copy-first:epochs=3");
  }
  // Original rows first, unchanged; then class b's rows (copies of x=5), then c's (x=7).
  EXPECT_EQ(out.column(0).num, (std::vector<double>{1, 2, 3, 4, 5, 6, 7, 5, 5, 7, 7, 7}));
  // A fitted generator is not refitted; --max-ratio caps the growth.
  const Table capped = resample_with_generator(*g, t, "auto", 2.0, Context{}, &made);
  EXPECT_EQ(made, (std::vector<int64_t>{0, 2, 1}));
  EXPECT_EQ(static_cast<CopyFirstRow&>(*g).fits, 1);
}

TEST(Generator, CheckpointHeaderRoundTripAndBadFiles) {
  test::TempDir d;
  CheckpointHeader h;
  h.method = "copy-first";
  h.spec = "copy-first:epochs=3";
  h.rareforge_version = "0.1.0";
  h.device = "cpu";
  h.schema = toy().schema();
  h.schema.columns[0].name = "odd \"name\"\n, here";
  h.class_counts = {4, 2, 1};
  const std::string line = checkpoint_header_line(h);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  test::write_file(d.file("m.rfm"), line + "\n" + std::string("\0\1\2payload", 10));
  size_t off = 0;
  const CheckpointHeader r = read_checkpoint_header(d.file("m.rfm"), &off);
  EXPECT_EQ(off, line.size() + 1);
  EXPECT_EQ(r.method, h.method);
  EXPECT_EQ(r.spec, h.spec);
  EXPECT_TRUE(r.schema == h.schema);
  EXPECT_EQ(r.class_counts, h.class_counts);

  test::write_file(d.file("bad.rfm"), "hello\n");
  EXPECT_THROW(read_checkpoint_header(d.file("bad.rfm")), InputError);
  test::write_file(d.file("empty.rfm"), "");
  EXPECT_THROW(read_checkpoint_header(d.file("empty.rfm")), InputError);
  EXPECT_THROW(read_checkpoint_header(d.file("missing.rfm")), InputError);
  std::string newer = line;
  newer.replace(newer.find("\"version\":1"), 11, "\"version\":9");
  test::write_file(d.file("new.rfm"), newer + "\n");
  try {
    read_checkpoint_header(d.file("new.rfm"));
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("upgrade"), std::string::npos) << e.what();
  }
  // A model of a generator this build does not have.
  CheckpointHeader other = h;
  other.method = other.spec = "no-such-generator";
  test::write_file(d.file("other.rfm"), checkpoint_header_line(other) + "\n");
  EXPECT_THROW(load_generator(d.file("other.rfm"), Context{}), InputError);
}

}  // namespace
}  // namespace rareforge
