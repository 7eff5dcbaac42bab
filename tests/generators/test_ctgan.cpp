// ctgan (generators/ctgan.cpp): exact class / `where` conditioning, checkpoint round trip bit for
// bit, resume, determinism by seed, input errors, and fidelity after a short training on a small
// two-class mixed table (per-column KS statistic and a real-vs-synthetic detection AUC with
// bounds set from runs over several seeds; see Fidelity below). CPU only.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "classifiers/classifier.h"
#include "classifiers/metrics.h"
#include "core/error.h"
#include "core/generator.h"
#include "core/rng.h"
#include "generators/register.h"
#include "tests/generators/detection.h"
#include "tests/generators/mixed_table.h"
#include "tests/test_util.h"

namespace rareforge::generators {
namespace {

// Small nets and few epochs: these tests check the plumbing, not the quality.
const char* kSmall =
    "ctgan:epochs=2,batch=100,pac=10,embedding_dim=16,generator_dim=32-32,"
    "discriminator_dim=32-32";

using fixtures::ctx_with;
using fixtures::detection_auc;

Table make_table(size_t n, uint64_t seed) { return fixtures::mixed_table(n, seed); }

std::unique_ptr<Generator> fitted(const std::string& spec, const Table& t, uint64_t seed) {
  register_ctgan();
  auto g = make_generator(spec);
  g->fit(t, ctx_with(seed));
  return g;
}

// Bitwise equality of two tables' cells.
void expect_same_cells(const Table& a, const Table& b) {
  ASSERT_EQ(a.n_rows(), b.n_rows());
  ASSERT_EQ(a.n_cols(), b.n_cols());
  for (size_t j = 0; j < a.n_cols(); ++j) {
    if (a.column(j).is_numeric()) {
      for (size_t i = 0; i < a.n_rows(); ++i)
        ASSERT_EQ(std::memcmp(&a.column(j).num[i], &b.column(j).num[i], sizeof(double)), 0)
            << a.column(j).name() << " row " << i;
    } else {
      ASSERT_EQ(a.column(j).codes, b.column(j).codes) << a.column(j).name();
    }
  }
}

std::string input_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}

TEST(Ctgan, RegisteredWithDefaults) {
  register_ctgan();
  const GeneratorInfo* info = find_generator("ctgan");
  ASSERT_NE(info, nullptr);
  auto g = make_generator("ctgan");
  EXPECT_NE(g->spec().find("epochs=300"), std::string::npos) << g->spec();
  EXPECT_NE(g->spec().find("batch=500"), std::string::npos) << g->spec();
  EXPECT_NE(g->spec().find("pac=10"), std::string::npos) << g->spec();
  EXPECT_FALSE(g->fitted());
  // batch must be a multiple of pac.
  const std::string msg = input_error([] { make_generator("ctgan:batch=55,pac=10"); });
  EXPECT_NE(msg.find("multiple of pac"), std::string::npos) << msg;
  EXPECT_NE(input_error([] { make_generator("ctgan:generator_dim=256-x"); }).find("generator_dim"),
            std::string::npos);
}

TEST(Ctgan, SampleExactClassAndWhere) {
  const Table t = make_table(400, 1);
  auto g = fitted(kSmall, t, 7);
  ASSERT_TRUE(g->fitted());
  EXPECT_EQ(g->schema(), t.schema());
  for (const std::string cls : {"a", "b"}) {
    const Table s = g->sample(257, cls, {}, ctx_with(3));
    ASSERT_EQ(s.n_rows(), 257u);
    EXPECT_EQ(s.schema(), t.schema());
    const int32_t code = cls == "a" ? 0 : 1;
    for (int32_t l : s.labels()) ASSERT_EQ(l, code);
    ASSERT_EQ(s.provenance().synthetic.size(), 257u);
    EXPECT_EQ(s.provenance().synthetic[0], 1);
    EXPECT_EQ(s.provenance().methods.at(0), g->spec());
    EXPECT_EQ(s.provenance().parent[5], -1);
    EXPECT_TRUE(std::isnan(s.provenance().gap[5]));
    for (size_t j = 0; j < s.n_cols(); ++j) {
      if (!s.column(j).is_numeric()) continue;
      for (double v : s.column(j).num) ASSERT_TRUE(std::isfinite(v));
    }
  }
  const Table w = g->sample(123, "b", {{"c1", "u"}}, ctx_with(4));
  ASSERT_EQ(w.n_rows(), 123u);
  for (int32_t l : w.labels()) ASSERT_EQ(l, 1);
  for (int32_t c : w.column("c1").codes) ASSERT_EQ(c, 0);
  EXPECT_EQ(g->sample(0, "a", {}, ctx_with(1)).n_rows(), 0u);
  // More rows than one internal chunk.
  EXPECT_EQ(g->sample(10001, "a", {{"c2", "q"}}, ctx_with(1)).n_rows(), 10001u);
}

TEST(Ctgan, SameSeedSameSamples) {
  const Table t = make_table(300, 2);
  auto g1 = fitted(kSmall, t, 11);
  auto g2 = fitted(kSmall, t, 11);
  const Table a = g1->sample(200, "a", {}, ctx_with(5));
  expect_same_cells(a, g2->sample(200, "a", {}, ctx_with(5)));
  // Sampling twice from one model with the same seed gives the same rows too.
  expect_same_cells(a, g1->sample(200, "a", {}, ctx_with(5)));
  // Another sampling seed, or another training seed, gives other rows.
  EXPECT_NE(a.column("x1").num, g1->sample(200, "a", {}, ctx_with(6)).column("x1").num);
  auto g3 = fitted(kSmall, t, 12);
  EXPECT_NE(a.column("x1").num, g3->sample(200, "a", {}, ctx_with(5)).column("x1").num);
}

TEST(Ctgan, CheckpointRoundTripAndResume) {
  test::TempDir dir;
  const Table t = make_table(300, 3);
  auto g = fitted(kSmall, t, 21);
  const std::string path = dir.file("m.rfm");
  g->save(path);
  const CheckpointHeader h = read_checkpoint_header(path);
  EXPECT_EQ(h.method, "ctgan");
  EXPECT_EQ(h.spec, g->spec());
  EXPECT_EQ(h.schema, t.schema());
  EXPECT_EQ(h.class_counts, t.class_counts());
  EXPECT_EQ(dir.n_entries(), 1u);  // no temporary left behind

  auto back = load_generator(path, ctx_with(0));
  ASSERT_TRUE(back->fitted());
  EXPECT_EQ(back->spec(), g->spec());
  expect_same_cells(g->sample(300, "b", {}, ctx_with(9)), back->sample(300, "b", {}, ctx_with(9)));
  expect_same_cells(g->sample(50, "a", {{"c1", "w"}}, ctx_with(9)),
                    back->sample(50, "a", {{"c1", "w"}}, ctx_with(9)));
  // Saving the loaded model and loading that again still gives the same rows (the bytes may
  // differ: TorchScript archives number their classes per process).
  back->save(dir.file("m2.rfm"));
  expect_same_cells(
      g->sample(300, "b", {}, ctx_with(9)),
      load_generator(dir.file("m2.rfm"), ctx_with(0))->sample(300, "b", {}, ctx_with(9)));

  // Resume: `epochs` more epochs from the checkpoint's state (as `rareforge fit --resume`:
  // load_generator, then fit with resume); the same resume twice gives the same model, and
  // another one than the saved model.
  auto r1 = load_generator(path, ctx_with(0));
  r1->fit(t, ctx_with(21), /*resume=*/true);
  auto r2 = load_generator(path, ctx_with(0));
  r2->fit(t, ctx_with(21), /*resume=*/true);
  const Table s1 = r1->sample(100, "a", {}, ctx_with(1));
  expect_same_cells(s1, r2->sample(100, "a", {}, ctx_with(1)));
  EXPECT_NE(s1.column("x1").num, g->sample(100, "a", {}, ctx_with(1)).column("x1").num);
  // A model built with other training parameters (more epochs, another lr) can load it too.
  auto r3 = make_generator(
      "ctgan:epochs=1,batch=100,pac=10,embedding_dim=16,generator_dim=32-32,"
      "discriminator_dim=32-32,generator_lr=1e-3");
  r3->load(path, ctx_with(0));
  r3->fit(t, ctx_with(21), /*resume=*/true);

  // Another architecture cannot load it; a damaged file is an InputError.
  auto other = make_generator("ctgan:embedding_dim=8");
  EXPECT_NE(input_error([&] { other->load(path, ctx_with(0)); }).find("embedding_dim"),
            std::string::npos);
  std::string bytes = test::read_file(path);
  test::write_file(dir.file("cut.rfm"), bytes.substr(0, bytes.size() / 2));
  EXPECT_NE(input_error([&] { load_generator(dir.file("cut.rfm"), ctx_with(0)); }),
            "(no InputError)");
  // Resume needs a loaded model of the same schema.
  auto fresh = make_generator(kSmall);
  EXPECT_NE(input_error([&] { fresh->fit(t, ctx_with(1), true); }).find("resume"),
            std::string::npos);
}

TEST(Ctgan, BadClassColumnValue) {
  const Table t = make_table(200, 4);
  auto g = fitted("ctgan:epochs=1,batch=100,embedding_dim=8,generator_dim=16,discriminator_dim=16",
                  t, 1);
  const Context c = ctx_with(1);
  std::string m = input_error([&] { g->sample(5, "zz", {}, c); });
  EXPECT_NE(m.find("'zz'"), std::string::npos) << m;
  EXPECT_NE(m.find("a, b"), std::string::npos) << m;
  m = input_error([&] { g->sample(5, "a", {{"nope", "u"}}, c); });
  EXPECT_NE(m.find("'nope'"), std::string::npos) << m;
  EXPECT_NE(m.find("c1, c2"), std::string::npos) << m;
  m = input_error([&] { g->sample(5, "a", {{"x1", "u"}}, c); });
  EXPECT_NE(m.find("numeric"), std::string::npos) << m;
  EXPECT_NE(m.find("c1, c2"), std::string::npos) << m;
  m = input_error([&] { g->sample(5, "a", {{"y", "a"}}, c); });
  EXPECT_NE(m.find("target"), std::string::npos) << m;
  m = input_error([&] { g->sample(5, "a", {{"c1", "zz"}}, c); });
  EXPECT_NE(m.find("'zz'"), std::string::npos) << m;
  EXPECT_NE(m.find("u, v, w"), std::string::npos) << m;
  m = input_error([&] { g->sample(5, "a", {{"c1", "u"}, {"c2", "p"}}, c); });
  EXPECT_NE(m.find("one column value at a time"), std::string::npos) << m;
  // Training needs a target with two classes.
  Table one = make_table(50, 5);
  std::vector<int32_t> zeros(one.n_rows(), 0);
  one.set_column(4, Column::categorical("y", {"a"}, zeros));
  auto g2 = make_generator(kSmall);
  EXPECT_NE(input_error([&] { g2->fit(one, c); }).find("class"), std::string::npos);
}

// An absurd learning rate makes a loss non-finite: training stops with an Error naming the
// epoch, and the object keeps the last good epoch's state (it still samples finite rows).
TEST(Ctgan, NonFiniteLossStopsTraining) {
  register_ctgan();
  const Table t = make_table(200, 6);
  auto g = make_generator(
      "ctgan:epochs=50,batch=100,embedding_dim=8,generator_dim=16,discriminator_dim=16,"
      "generator_lr=1e9,discriminator_lr=1e9");
  std::string msg;
  try {
    g->fit(t, ctx_with(3));
  } catch (const InputError&) {
    FAIL() << "a NaN loss is not an input error";
  } catch (const Error& e) {
    msg = e.what();
  }
  ASSERT_NE(msg, "") << "no epoch gave a non-finite loss with lr=1e9";
  EXPECT_NE(msg.find("epoch"), std::string::npos) << msg;
  if (g->fitted()) {
    const Table s = g->sample(20, "a", {}, ctx_with(1));
    EXPECT_EQ(s.n_rows(), 20u);
  }
}

// Two-sample Kolmogorov–Smirnov statistic sup |F_a - F_b| (brute force on the merged sample).
double ks_statistic(std::vector<double> a, std::vector<double> b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  std::vector<double> all(a);
  all.insert(all.end(), b.begin(), b.end());
  double d = 0;
  for (double v : all) {
    const double fa = double(std::upper_bound(a.begin(), a.end(), v) - a.begin()) / a.size();
    const double fb = double(std::upper_bound(b.begin(), b.end(), v) - b.begin()) / b.size();
    d = std::max(d, std::abs(fa - fb));
  }
  return d;
}

std::vector<double> class_values(const Table& t, const std::string& col, int32_t cls) {
  std::vector<double> out;
  const auto& v = t.column(col).num;
  for (size_t i = 0; i < t.n_rows(); ++i)
    if (t.labels()[i] == cls) out.push_back(v[i]);
  return out;
}

// Fidelity after a short training: 1,000 rows, 150 epochs of batch 50 (3,000 steps) with
// small networks (64-64) and lr 1e-3, about 11 s of CPU with Debian's reference BLAS. Runs over
// training seeds on this machine (Debian LibTorch 1.13, CPU, reference BLAS), KS of x1|a, x1|b,
// x2|a, x2|b -> worst / mean, detection AUC:
//   seed 1: .240 .176 .187 .439 -> .439 / .261, AUC .708   (the seed the test uses)
//   seed 2: .272 .262 .099 .156 -> .272 / .197, AUC .540
//   seed 3: .298 .402 .282 .196 -> .402 / .295, AUC .680
//   (120 epochs, seed 1: worst .382, AUC .661; 128-128 networks, 200 epochs: worst .300, AUC
//   .616 but 49 s of CPU)
//   the same networks after 1 epoch (seed 1): .411 .535 .471 .186 -> .535 / .401, AUC .811
// Bounds: worst KS < 0.5, mean KS < 0.35, AUC < 0.78 — every trained run passes, the 1-epoch
// generator fails all three. The generator also produces a rare asked `where` value by itself
// (c1 = w, 10 % of class a in the data) in 99.0-99.7 % of rows (35 % after 1 epoch).
TEST(Ctgan, Fidelity) {
  const Table real = make_table(1000, 42);
  auto g = fitted(
      "ctgan:epochs=150,batch=50,generator_lr=1e-3,discriminator_lr=1e-3,embedding_dim=32,"
      "generator_dim=64-64,discriminator_dim=64-64",
      real, /*seed=*/1);
  const Table synth = fixtures::sample_like(*g, real, [](size_t c) { return ctx_with(100 + c); });
  double worst = 0, mean = 0;
  for (const std::string col : {"x1", "x2"})
    for (int32_t c = 0; c < 2; ++c) {
      const double ks = ks_statistic(class_values(real, col, c), class_values(synth, col, c));
      std::printf("KS(%s | %s) = %.3f\n", col.c_str(), c ? "b" : "a", ks);
      worst = std::max(worst, ks);
      mean += ks / 4;
    }
  const double auc = detection_auc(real, synth, 5);
  std::printf("detection AUC = %.3f\n", auc);
  EXPECT_LT(worst, 0.5);
  EXPECT_LT(mean, 0.35);
  EXPECT_LT(auc, 0.78);

  // How often the generator itself produces an asked `where` value (sample() then sets the
  // column, so every returned row has it): c1 = w is rare in class a (10 %).
  testing::internal::CaptureStderr();
  Context loud = ctx_with(7);
  loud.quiet = false;
  const Table w = g->sample(1000, "a", {{"c1", "w"}}, loud);
  const std::string err = testing::internal::GetCapturedStderr();
  for (int32_t code : w.column("c1").codes) ASSERT_EQ(code, 2);
  const auto at = err.find(" in ");
  ASSERT_NE(at, std::string::npos) << err;
  const double pct = std::stod(err.substr(at + 4));
  std::printf("generator produced c1=w itself in %.1f%% of class-a rows\n", pct);
  EXPECT_GT(pct, 10.0) << err;  // the condition vector does steer it (10 % without it)
}

}  // namespace
}  // namespace rareforge::generators
