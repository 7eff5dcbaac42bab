// ddpm: the diffusion math (generators/diffusion.h) against hand computation, a tiny model that
// learns, and the generator contract (core/generator.h) for `ddpm`.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <numeric>
#include <vector>

#include "core/error.h"
#include "core/generator.h"
#include "core/rng.h"
#include "generators/diffusion.h"
#include "generators/register.h"
#include "tests/generators/detection.h"
#include "tests/test_util.h"

namespace rareforge::generators {
namespace {

constexpr double kPi = 3.14159265358979323846;

using fixtures::detection_auc;
using fixtures::test_seed;

// f(u) = cos^2((u + s) / (1 + s) * pi / 2), s = 0.008: the cosine schedule's abar before
// normalisation. Without clipping, prod_{i<=t} (1 - beta_i) telescopes to f((t+1)/T) / f(0).
double cosine_f(double u) {
  const double c = std::cos((u + 0.008) / 1.008 * kPi / 2.0);
  return c * c;
}

TEST(DdpmSchedule, CosineMatchesClosedForm) {
  const int64_t T = 1000;
  const CosineSchedule s = CosineSchedule::make(T);
  ASSERT_EQ(s.alphas_cumprod.size(), 1000u);
  // Every step but the last is unclipped (beta_999 = 1 - f(1)/f(0.999) ~ 1 is clipped to 0.999).
  for (int64_t t : {0, 1, 10, 250, 500, 900, 998}) {
    const double expect = cosine_f((t + 1.0) / T) / cosine_f(0.0);
    EXPECT_NEAR(s.alphas_cumprod[static_cast<size_t>(t)], expect, 1e-12 * std::max(1.0, expect))
        << "t=" << t;
  }
  EXPECT_DOUBLE_EQ(s.betas[999], 0.999);
  EXPECT_NEAR(s.alphas_cumprod[999], s.alphas_cumprod[998] * 0.001, 1e-18);
  EXPECT_NEAR(s.log_cumprod(500), std::log(s.alphas_cumprod[500]), 1e-9);
  EXPECT_EQ(s.log_cumprod(-1), 0.0);
}

TEST(DdpmSchedule, StridedSteps) {
  const std::vector<int64_t> all = strided_steps(10, 10);
  EXPECT_EQ(all, (std::vector<int64_t>{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}));
  EXPECT_EQ(strided_steps(10, 50), all);  // capped at T
  EXPECT_EQ(strided_steps(1000, 1), (std::vector<int64_t>{999}));
  EXPECT_EQ(strided_steps(1000, 4), (std::vector<int64_t>{999, 666, 333, 0}));
  const std::vector<int64_t> s = strided_steps(1000, 100);
  ASSERT_EQ(s.size(), 100u);
  EXPECT_EQ(s.front(), 999);
  EXPECT_EQ(s.back(), 0);
  for (size_t i = 1; i < s.size(); ++i) EXPECT_LT(s[i], s[i - 1]);
}

TEST(DdpmSchedule, CatLayoutGroupsByWidth) {
  const CatLayout l = CatLayout::make({3, 2, 3, 5, 2});
  EXPECT_EQ(l.order, (std::vector<int64_t>{1, 4, 0, 2, 3}));
  ASSERT_EQ(l.groups.size(), 3u);
  EXPECT_EQ(l.groups[0].offset, 0);
  EXPECT_EQ(l.groups[0].count, 2);
  EXPECT_EQ(l.groups[0].width, 2);
  EXPECT_EQ(l.groups[1].offset, 4);
  EXPECT_EQ(l.groups[1].count, 2);
  EXPECT_EQ(l.groups[2].offset, 10);
  EXPECT_EQ(l.groups[2].width, 5);
  EXPECT_EQ(l.dim, 15);
  EXPECT_EQ(l.n_spans, 5);
}

TEST(DdpmDiffusion, GaussianForwardMatchesClosedForm) {
  torch::manual_seed(7);
  const int64_t T = 1000;
  const TabDiffusion d(T, 2, {}, torch::kCPU);
  // Exact: for given noise, x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise with abar by hand.
  const torch::Tensor x0 = torch::tensor({{1.5f, -0.5f}, {0.25f, 2.0f}});
  const torch::Tensor noise = torch::tensor({{0.3f, -1.2f}, {2.0f, 0.1f}});
  const torch::Tensor t = torch::tensor({100, 700}, torch::kInt64);
  const torch::Tensor xt = d.q_sample_gauss(x0, t, noise);
  for (int r = 0; r < 2; ++r) {
    const double ab = cosine_f((t[r].item<int64_t>() + 1.0) / T) / cosine_f(0.0);
    for (int c = 0; c < 2; ++c) {
      const double expect =
          std::sqrt(ab) * x0[r][c].item<float>() + std::sqrt(1.0 - ab) * noise[r][c].item<float>();
      EXPECT_NEAR(xt[r][c].item<float>(), expect, 1e-5) << "row " << r << " col " << c;
    }
  }
  // Distribution: 200000 draws at t = 300 from x0 = 1.7 have mean sqrt(abar) x0 and variance
  // 1 - abar (tolerances: 5 standard errors of the mean, 2% of the variance).
  const int64_t n = 200000;
  const torch::Tensor x0s = torch::full({n, 1}, 1.7f);
  const torch::Tensor ts = torch::full({n}, 300, torch::kInt64);
  const torch::Tensor draws = d.q_sample_gauss(x0s, ts, torch::randn({n, 1}));
  const double ab = cosine_f(301.0 / T) / cosine_f(0.0);
  const double mean = draws.mean().item<double>();
  const double var = draws.var().item<double>();
  EXPECT_NEAR(mean, std::sqrt(ab) * 1.7, 5.0 * std::sqrt((1.0 - ab) / n));
  EXPECT_NEAR(var, 1.0 - ab, 0.02 * (1.0 - ab));
}

// A span of K categories: q(x_t | x_0) = abar_t x_0 + (1 - abar_t) / K.
TEST(DdpmDiffusion, MultinomialForwardMatchesClosedForm) {
  const int64_t T = 100;
  const TabDiffusion d(T, 0, {3}, torch::kCPU);
  const torch::Tensor x0 = torch::tensor({{0.f, 1.f, 0.f}});
  const torch::Tensor lq =
      d.log_q_xt_x0(torch::log(x0.clamp_min(kMinProb)), torch::tensor({40}, torch::kInt64));
  const double ab = d.schedule().alphas_cumprod[40];
  EXPECT_NEAR(std::exp(lq[0][0].item<float>()), (1 - ab) / 3, 1e-6);
  EXPECT_NEAR(std::exp(lq[0][1].item<float>()), ab + (1 - ab) / 3, 1e-6);
  EXPECT_NEAR(std::exp(lq[0][2].item<float>()), (1 - ab) / 3, 1e-6);
}

// q(x_s | x_t, x_0) by hand for one span of K categories, x_0 = e_a, x_t = e_b:
//   q(x_s = k | x_0) = abar_s [k = a] + (1 - abar_s) / K
//   q(x_t = b | x_s = k) = (abar_t / abar_s) [k = b] + (1 - abar_t / abar_s) / K
// normalised over k.
std::vector<double> hand_posterior(const CosineSchedule& sc, int64_t t, int64_t s, int K, int a,
                                   int b) {
  const double ab_t = sc.alphas_cumprod[static_cast<size_t>(t)];
  const double ab_s = sc.alphas_cumprod[static_cast<size_t>(s)];
  const double al = ab_t / ab_s;
  std::vector<double> p(static_cast<size_t>(K));
  for (int k = 0; k < K; ++k) {
    const double q_s = ab_s * (k == a) + (1 - ab_s) / K;
    const double q_t = al * (k == b) + (1 - al) / K;
    p[static_cast<size_t>(k)] = q_s * q_t;
  }
  const double z = std::accumulate(p.begin(), p.end(), 0.0);
  for (double& v : p) v /= z;
  return p;
}

TEST(DdpmDiffusion, MultinomialPosteriorHandCase) {
  const int64_t T = 1000;
  // Two spans: widths 3 and 2 (layout order: the width-2 span first).
  const TabDiffusion d(T, 0, {3, 2}, torch::kCPU);
  ASSERT_EQ(d.layout().order, (std::vector<int64_t>{1, 0}));
  // x0: span A (w3) = category 0, span B (w2) = category 1; x_t: A = 1, B = 1.
  const torch::Tensor x0 = torch::tensor({{0.f, 1.f, 1.f, 0.f, 0.f}});
  const torch::Tensor xt = torch::tensor({{0.f, 1.f, 0.f, 1.f, 0.f}});
  const auto lg = [](const torch::Tensor& x) { return torch::log(x.clamp_min(kMinProb)); };
  for (auto [t, s] : std::vector<std::pair<int64_t, int64_t>>{{10, 9}, {500, 499}, {400, 100}}) {
    const torch::Tensor post = d.log_posterior(lg(x0), lg(xt), torch::tensor({t}, torch::kInt64),
                                               torch::tensor({s}, torch::kInt64))
                                   .exp();
    const std::vector<double> pa = hand_posterior(d.schedule(), t, s, 3, 0, 1);
    const std::vector<double> pb = hand_posterior(d.schedule(), t, s, 2, 1, 1);
    for (int k = 0; k < 3; ++k)
      EXPECT_NEAR(post[0][2 + k].item<float>(), pa[static_cast<size_t>(k)], 2e-5)
          << "t=" << t << " s=" << s << " k=" << k;
    for (int k = 0; k < 2; ++k)
      EXPECT_NEAR(post[0][k].item<float>(), pb[static_cast<size_t>(k)], 2e-5)
          << "t=" << t << " s=" << s << " k=" << k;
  }
  // s = -1: the posterior is x_0 itself.
  const torch::Tensor last = d.log_posterior(lg(x0), lg(xt), torch::tensor({0}, torch::kInt64),
                                             torch::tensor({-1}, torch::kInt64));
  EXPECT_TRUE(torch::equal(last.exp().round(), x0));
}

TEST(DdpmDiffusion, MultinomialPosteriorSumsToOne) {
  torch::manual_seed(3);
  const int64_t T = 1000;
  const std::vector<int64_t> widths{4, 2, 7, 2, 1};
  const TabDiffusion d(T, 0, widths, torch::kCPU);
  const int64_t n = 256;
  // Soft x_0 (as the model predicts it) and a one-hot x_t, random t > s >= 0.
  const torch::Tensor log_x0 = d.span_log_softmax(torch::randn({n, d.dc()}) * 3);
  const torch::Tensor xt = d.sample_onehot(d.span_log_softmax(torch::zeros({n, d.dc()})));
  const torch::Tensor t = torch::randint(1, T, {n}, torch::kInt64);
  const torch::Tensor s = (torch::rand({n}) * t.to(torch::kFloat32)).to(torch::kInt64);
  ASSERT_TRUE((s < t).all().item<bool>());
  const torch::Tensor p = d.log_posterior(log_x0, torch::log(xt.clamp_min(kMinProb)), t, s).exp();
  for (const auto& g : d.layout().groups) {
    const torch::Tensor sums =
        p.narrow(1, g.offset, g.count * g.width).reshape({n, g.count, g.width}).sum(2);
    EXPECT_LT((sums - 1).abs().max().item<float>(), 1e-5) << "width " << g.width;
  }
  // One-hot draws: exactly one 1 per span.
  for (const auto& g : d.layout().groups) {
    const torch::Tensor sums =
        xt.narrow(1, g.offset, g.count * g.width).reshape({n, g.count, g.width}).sum(2);
    EXPECT_TRUE(torch::equal(sums, torch::ones_like(sums)));
  }
}

TEST(DdpmDiffusion, TimestepEmbedding) {
  const torch::Tensor e = timestep_embedding(torch::tensor({0, 5}, torch::kInt64), 8);
  ASSERT_EQ(e.sizes(), (std::vector<int64_t>{2, 8}));
  // t = 0: cos = 1, sin = 0. t = 5, i = 1: f_1 = 10000^(-1/4) = 0.1.
  EXPECT_FLOAT_EQ(e[0][0].item<float>(), 1.0f);
  EXPECT_FLOAT_EQ(e[0][4].item<float>(), 0.0f);
  EXPECT_NEAR(e[1][1].item<float>(), std::cos(0.5), 1e-6);
  EXPECT_NEAR(e[1][5].item<float>(), std::sin(0.5), 1e-6);
}

// --- a tiny model learns ------------------------------------------------------------------------

// Two classes, two numeric columns and one categorical column of 3 values, already in the
// diffusion's layout: class 0: x ~ N((-1, 0.5), 0.3^2), category 0 w.p. 0.8; class 1:
// x ~ N((1, -0.5), 0.3^2), category 2 w.p. 0.8 (else uniform over the other two).
struct ToyBatch {
  torch::Tensor x_num, x_cat, y;
};
ToyBatch toy_data(int64_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> num, cat;
  std::vector<int64_t> y;
  for (int64_t i = 0; i < n; ++i) {
    const int c = rng.uniform() < 0.6 ? 0 : 1;
    num.push_back(static_cast<float>(rng.normal(c ? 1.0 : -1.0, 0.3)));
    num.push_back(static_cast<float>(rng.normal(c ? -0.5 : 0.5, 0.3)));
    int k = c ? 2 : 0;
    if (rng.uniform() >= 0.8) k = (k + 1 + static_cast<int>(rng.uniform_int(2))) % 3;
    for (int j = 0; j < 3; ++j) cat.push_back(j == k ? 1.f : 0.f);
    y.push_back(c);
  }
  return {torch::tensor(num).reshape({n, 2}), torch::tensor(cat).reshape({n, 3}),
          torch::tensor(y, torch::kInt64)};
}

// 400 AdamW steps at lr 2e-3 of a 64-64 denoiser with T = 100. Mean loss over the first 20 steps
// vs the last 50 (seeds 1..5): gaussian 0.81..0.88 -> 0.225..0.236 (factor 3.5..3.9),
// multinomial 1.61..2.12 -> 0.62..0.82 (factor 2.1..3.4; it includes the constant prior KL and
// the data's own category entropy, so it cannot fall as far). The test asks for factors 3 and 1.8.
// Sampled class-1 means over those seeds (50 strided steps, eta = 1): x1 0.90..1.06,
// x2 -0.41..-0.51; category-2 share 0.82..0.90.
TEST(DdpmDiffusion, TinyModelLearns) {
  const uint64_t seed = test_seed(1);
  torch::manual_seed(seed);
  torch::set_num_threads(2);
  const ToyBatch data = toy_data(2000, 10 + seed);
  const TabDiffusion d(100, 2, {3}, torch::kCPU);
  Denoiser model(5, 3, std::vector<int64_t>{64, 64}, 0.0, 32);
  torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(2e-3).weight_decay(0));
  std::vector<double> lg, lm;
  for (int step = 0; step < 400; ++step) {
    const torch::Tensor idx = torch::randint(0, 2000, {256}, torch::kInt64);
    const DiffusionLoss L = d.loss(model, data.x_num.index_select(0, idx),
                                   data.x_cat.index_select(0, idx), data.y.index_select(0, idx));
    opt.zero_grad();
    L.total().backward();
    opt.step();
    lg.push_back(L.gauss.item<double>());
    lm.push_back(L.multinomial.item<double>());
  }
  const auto mean = [](const std::vector<double>& v, size_t a, size_t b) {
    return std::accumulate(v.begin() + a, v.begin() + b, 0.0) / static_cast<double>(b - a);
  };
  const double g0 = mean(lg, 0, 20), g1 = mean(lg, 350, 400);
  const double m0 = mean(lm, 0, 20), m1 = mean(lm, 350, 400);
  std::printf("gaussian loss %.3f -> %.3f, multinomial loss %.3f -> %.3f\n", g0, g1, m0, m1);
  EXPECT_LT(g1 * 3, g0);
  EXPECT_LT(m1 * 1.8, m0);

  // The trained model samples class 1 from its own region: numeric means near (1, -0.5).
  model->eval();
  torch::manual_seed(2);
  SampleOptions so;
  so.steps = 50;
  const DiffusionSample s = d.sample(model, 2000, 1, so);
  const torch::Tensor mu = s.x_num.mean(0);
  std::printf("class 1 sample means %.3f %.3f; category 2 share %.3f\n", mu[0].item<float>(),
              mu[1].item<float>(), s.x_cat.select(1, 2).mean().item<float>());
  EXPECT_NEAR(mu[0].item<float>(), 1.0, 0.3);
  EXPECT_NEAR(mu[1].item<float>(), -0.5, 0.3);
  EXPECT_GT(s.x_cat.select(1, 2).mean().item<float>(), 0.6);
}

TEST(DdpmDiffusion, NanInSamplingIsAnError) {
  const TabDiffusion d(50, 2, {3}, torch::kCPU);
  Denoiser model(5, 3, std::vector<int64_t>{8}, 0.0, 8);
  {
    torch::NoGradGuard no_grad;
    model->out->bias.fill_(std::numeric_limits<float>::quiet_NaN());
  }
  SampleOptions so;
  so.steps = 5;
  try {
    d.sample(model, 10, 0, so);
    FAIL() << "no error";
  } catch (const InputError&) {
    FAIL() << "an InputError";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("NaN/Inf at sampling step 1 of 5"), std::string::npos)
        << e.what();
  }
}

// --- the generator ------------------------------------------------------------------------------

// Mixed two-class table: x1, x2 numeric, c categorical (3 values), y target ("a": 400 rows,
// "b": 200 rows). a: x1 ~ N(0, 1), x2 ~ Exp(1), c = u w.p. 0.7; b: x1 ~ N(4, 0.5),
// x2 ~ 10 + Exp(1), c = w w.p. 0.7.
Table mixed_table(uint64_t seed, int64_t na = 400, int64_t nb = 200) {
  Rng rng(seed);
  std::vector<double> x1, x2;
  std::vector<int32_t> c, y;
  for (int64_t i = 0; i < na + nb; ++i) {
    const int k = i < na ? 0 : 1;
    x1.push_back(k ? rng.normal(4.0, 0.5) : rng.normal());
    x2.push_back((k ? 10.0 : 0.0) - std::log(1.0 - rng.uniform()));
    int v = k ? 2 : 0;
    if (rng.uniform() >= 0.7) v = (v + 1 + static_cast<int>(rng.uniform_int(2))) % 3;
    c.push_back(v);
    y.push_back(k);
  }
  Table t;
  t.add_column(Column::numeric("x1", x1));
  t.add_column(Column::numeric("x2", x2));
  t.add_column(Column::categorical("c", {"u", "v", "w"}, c));
  t.add_column(Column::categorical("y", {"a", "b"}, y));
  t.set_target("y");
  return t;
}

Context cpu_ctx(uint64_t seed) {
  Context ctx;
  ctx.seed = seed;
  ctx.threads = 2;
  ctx.quiet = true;
  return ctx;
}

const char* kTinySpec =
    "ddpm:timesteps=100,train_steps=300,batch=256,hidden=64-64,dim_t=32,sample_steps=20";

class DdpmGenerator : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { register_ddpm(); }
};

TEST_F(DdpmGenerator, SamplesExactlyTheAskedClass) {
  const Table train = mixed_table(5);
  auto gen = make_generator(kTinySpec);
  EXPECT_FALSE(gen->fitted());
  gen->fit(train, cpu_ctx(1));
  ASSERT_TRUE(gen->fitted());
  EXPECT_EQ(gen->schema(), train.schema());
  for (const std::string cls : {"a", "b"}) {
    const Table s = gen->sample(37, cls, {}, cpu_ctx(2));
    ASSERT_EQ(s.n_rows(), 37u);
    EXPECT_EQ(s.schema(), train.schema());
    const int32_t code = cls == "a" ? 0 : 1;
    for (int32_t l : s.labels()) EXPECT_EQ(l, code);
    ASSERT_EQ(s.provenance().synthetic.size(), 37u);
    EXPECT_EQ(s.provenance().methods, std::vector<std::string>{gen->spec()});
    for (size_t i = 0; i < 37; ++i) {
      EXPECT_EQ(s.provenance().synthetic[i], 1);
      EXPECT_EQ(s.provenance().parent[i], -1);
      EXPECT_TRUE(std::isfinite(s.column(0).num[i]));
      EXPECT_TRUE(std::isfinite(s.column(1).num[i]));
      EXPECT_GE(s.column(2).codes[i], 0);
    }
  }
  EXPECT_EQ(gen->sample(0, "a", {}, cpu_ctx(2)).n_rows(), 0u);
  EXPECT_THROW(gen->sample(5, "zzz", {}, cpu_ctx(2)), InputError);
  try {
    gen->sample(5, "a", {{"c", "u"}}, cpu_ctx(2));
    FAIL() << "where accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--where is not supported"), std::string::npos);
  }
  // Same seed, same rows; another seed, other rows.
  const Table s1 = gen->sample(20, "b", {}, cpu_ctx(9)), s2 = gen->sample(20, "b", {}, cpu_ctx(9));
  const Table s3 = gen->sample(20, "b", {}, cpu_ctx(10));
  EXPECT_EQ(s1.column(0).num, s2.column(0).num);
  EXPECT_NE(s1.column(0).num, s3.column(0).num);
}

TEST_F(DdpmGenerator, BadSpecsAreInputErrors) {
  EXPECT_THROW(make_generator("ddpm:hidden=12-x"), InputError);
  EXPECT_THROW(make_generator("ddpm:dim_t=31"), InputError);
  EXPECT_THROW(make_generator("ddpm:guidance=2"), InputError);  // needs label_dropout
  EXPECT_THROW(make_generator("ddpm:timesteps=1"), InputError);
  EXPECT_THROW(make_generator("ddpm:bogus=1"), InputError);
  EXPECT_NO_THROW(make_generator("ddpm:guidance=2,label_dropout=0.1"));
  auto gen = make_generator(kTinySpec);
  EXPECT_THROW(gen->sample(3, "a", {}, cpu_ctx(1)), Error);  // before fit
  Table target_only = mixed_table(1, 10, 10);
  for (int j = 2; j >= 0; --j) target_only.remove_column(static_cast<size_t>(j));
  EXPECT_THROW(gen->fit(target_only, cpu_ctx(1)), InputError);
}

TEST_F(DdpmGenerator, CheckpointRoundTripIsExact) {
  const Table train = mixed_table(6);
  auto gen = make_generator(kTinySpec);
  gen->fit(train, cpu_ctx(3));
  test::TempDir dir;
  const std::string path = dir.file("m.rfm");
  gen->save(path);
  EXPECT_EQ(read_checkpoint_header(path).method, "ddpm");
  auto back = load_generator(path, cpu_ctx(3));
  ASSERT_TRUE(back->fitted());
  EXPECT_EQ(back->spec(), gen->spec());
  EXPECT_EQ(back->schema(), train.schema());
  for (const std::string cls : {"a", "b"}) {
    const Table a = gen->sample(64, cls, {}, cpu_ctx(4));
    const Table b = back->sample(64, cls, {}, cpu_ctx(4));
    for (size_t j = 0; j < 2; ++j) EXPECT_EQ(a.column(j).num, b.column(j).num) << cls;
    EXPECT_EQ(a.column(2).codes, b.column(2).codes) << cls;
  }
  // Resume: train_steps more steps from the checkpoint's state.
  auto longer = make_generator(
      "ddpm:timesteps=100,train_steps=50,batch=256,hidden=64-64,dim_t=32,sample_steps=20");
  longer->load(path, cpu_ctx(3));
  longer->fit(train, cpu_ctx(3), /*resume=*/true);
  const Table resumed = longer->sample(10, "b", {}, cpu_ctx(4));
  EXPECT_EQ(resumed.n_rows(), 10u);
  // Training is deterministic too: the same seed gives the same model, fresh or resumed.
  auto twin = make_generator(kTinySpec);
  twin->fit(train, cpu_ctx(3));
  EXPECT_EQ(twin->sample(64, "b", {}, cpu_ctx(4)).column(0).num,
            gen->sample(64, "b", {}, cpu_ctx(4)).column(0).num);
  auto longer2 = make_generator(
      "ddpm:timesteps=100,train_steps=50,batch=256,hidden=64-64,dim_t=32,sample_steps=20");
  longer2->load(path, cpu_ctx(3));
  longer2->fit(train, cpu_ctx(3), /*resume=*/true);
  EXPECT_EQ(longer2->sample(10, "b", {}, cpu_ctx(4)).column(0).num, resumed.column(0).num);
  EXPECT_NE(resumed.column(0).num, back->sample(10, "b", {}, cpu_ctx(4)).column(0).num);
  // Another architecture cannot load it.
  auto other = make_generator("ddpm:timesteps=100,hidden=32-32,dim_t=32");
  EXPECT_THROW(other->load(path, cpu_ctx(3)), InputError);
  EXPECT_THROW(other->fit(train, cpu_ctx(3), true), InputError);  // resume before load
}

TEST_F(DdpmGenerator, NumericOnlyCategoricalOnlyAndGuidance) {
  const Table mixed = mixed_table(8);
  Table num_only = mixed;
  num_only.remove_column(2);
  Table cat_only = mixed;
  cat_only.remove_column(1);
  cat_only.remove_column(0);
  for (const Table* t : {&num_only, &cat_only}) {
    auto gen = make_generator(kTinySpec);
    gen->fit(*t, cpu_ctx(1));
    const Table s = gen->sample(15, "b", {}, cpu_ctx(2));
    EXPECT_EQ(s.n_rows(), 15u);
    EXPECT_EQ(s.schema(), t->schema());
  }
  auto guided = make_generator(std::string(kTinySpec) + ",label_dropout=0.2,guidance=1.5");
  guided->fit(mixed, cpu_ctx(1));
  const Table s = guided->sample(15, "a", {}, cpu_ctx(2));
  EXPECT_EQ(s.n_rows(), 15u);
  for (int32_t l : s.labels()) EXPECT_EQ(l, 0);
}

// Categorical spans of several widths, the wider first in the table: the diffusion reorders them
// by width and sample() must put each back in its own column. Class a: c5 = 0, c2 = 1 (each w.p.
// 0.9); class b: c5 = 4, c2 = 0.
TEST_F(DdpmGenerator, CategoricalSpansKeepTheirColumns) {
  Rng rng(21);
  std::vector<double> x;
  std::vector<int32_t> c5, c2, y;
  for (int i = 0; i < 600; ++i) {
    const int k = i % 3 == 0 ? 1 : 0;
    x.push_back(rng.normal(k ? 2.0 : 0.0, 1.0));
    c5.push_back(rng.uniform() < 0.9 ? (k ? 4 : 0) : static_cast<int32_t>(rng.uniform_int(5)));
    c2.push_back(rng.uniform() < 0.9 ? (k ? 0 : 1) : static_cast<int32_t>(rng.uniform_int(2)));
    y.push_back(k);
  }
  Table t;
  t.add_column(Column::categorical("c5", {"p", "q", "r", "s", "t"}, c5));
  t.add_column(Column::numeric("x", x));
  t.add_column(Column::categorical("c2", {"no", "yes"}, c2));
  t.add_column(Column::categorical("y", {"a", "b"}, y));
  t.set_target("y");
  auto gen = make_generator(kTinySpec);
  gen->fit(t, cpu_ctx(4));
  for (int32_t k = 0; k < 2; ++k) {
    const Table s = gen->sample(300, k ? "b" : "a", {}, cpu_ctx(5));
    const auto share = [&](size_t col, int32_t v) {
      const auto& c = s.column(col).codes;
      return static_cast<double>(std::count(c.begin(), c.end(), v)) / c.size();
    };
    const double s5 = share(0, k ? 4 : 0), s2 = share(2, k ? 0 : 1);
    std::printf("class %d: c5 share %.3f, c2 share %.3f\n", k, s5, s2);
    EXPECT_GT(s5, 0.7) << "class " << k;
    EXPECT_GT(s2, 0.7) << "class " << k;
  }
}

// On a GPU: train on cuda, sample there, and sample the checkpoint on the CPU (skipped without a
// GPU, as every *_CUDA test).
TEST_F(DdpmGenerator, TrainsOnCudaSamplesOnCpu_CUDA) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA GPU visible to LibTorch";
  const Table train = mixed_table(7);
  Context gpu = cpu_ctx(3);
  gpu.device = Device::parse("cuda");
  auto gen = make_generator(kTinySpec);
  gen->fit(train, gpu);
  const Table on_gpu = gen->sample(50, "b", {}, gpu);
  EXPECT_EQ(on_gpu.n_rows(), 50u);
  test::TempDir dir;
  gen->save(dir.file("m.rfm"));
  auto back = load_generator(dir.file("m.rfm"), cpu_ctx(3));
  const Table on_cpu = back->sample(50, "b", {}, cpu_ctx(3));
  ASSERT_EQ(on_cpu.n_rows(), 50u);
  for (int32_t l : on_cpu.labels()) EXPECT_EQ(l, 1);
  EXPECT_EQ(on_cpu.schema(), train.schema());
}

// A diverging run (lr = 1e9) stops with an Error naming the steps, not an InputError, and the
// object keeps the last good state (none here: it diverges within the first 100 steps).
TEST_F(DdpmGenerator, NonFiniteLossStopsTraining) {
  auto gen = make_generator(
      "ddpm:timesteps=100,train_steps=1000,batch=256,hidden=64-64,dim_t=32,lr=1e9,sample_steps=5");
  try {
    gen->fit(mixed_table(3), cpu_ctx(1));
    FAIL() << "no error";
  } catch (const InputError& e) {
    FAIL() << "an InputError: " << e.what();
  } catch (const Error& e) {
    const std::string m = e.what();
    std::printf("%s\n", m.c_str());
    EXPECT_NE(m.find("ddpm: the "), std::string::npos) << m;
    EXPECT_NE(m.find("loss became"), std::string::npos) << m;
    EXPECT_NE(m.find("training stopped"), std::string::npos) << m;
  }
  // It diverged within the first 100 steps, so there is no good state to keep.
  EXPECT_FALSE(gen->fitted());
}

// Two-sample Kolmogorov-Smirnov statistic sup |F_a - F_b|.
double ks_statistic(std::vector<double> a, std::vector<double> b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  size_t i = 0, j = 0;
  double d = 0;
  while (i < a.size() && j < b.size()) {
    const double v = std::min(a[i], b[j]);
    while (i < a.size() && a[i] == v) ++i;
    while (j < b.size() && b[j] == v) ++j;
    d = std::max(d,
                 std::abs(static_cast<double>(i) / a.size() - static_cast<double>(j) / b.size()));
  }
  return d;
}

// Per class and numeric column, KS between the training rows and 1000 sampled rows, after 1500
// steps of a 128-128 denoiser (T = 1000, 100 strided steps, eta = 1). Runs with seeds 1..5: worst
// KS per run 0.085, 0.091, 0.084, 0.077, 0.075 (class b has 200 rows, so sampling noise alone
// gives ~0.05..0.1); main-category share 0.68..0.74. (With eta = 0 the worst KS was 0.09..0.14,
// with 800 steps up to 0.18.) The bounds are KS < 0.15 and share 0.7 +- 0.1; rows of the wrong
// class would give KS > 0.9. Detection AUC (logistic regression, the training rows against as
// many synthetic rows per class, tests/generators/detection.h), seeds 1..5: 0.506 0.502 0.517
// 0.496 0.536; after 20 steps (worst KS 0.53) 0.800. Bound: AUC < 0.60.
TEST_F(DdpmGenerator, FidelityPerNumericKs) {
  const double kMaxAuc = 0.60;  // set from the runs above
  const uint64_t seed = test_seed(1);
  const Table train = mixed_table(100 + seed);
  auto gen = make_generator("ddpm:train_steps=1500,batch=256,hidden=128-128,dim_t=64");
  gen->fit(train, cpu_ctx(seed));
  double worst = 0;
  for (int32_t k = 0; k < 2; ++k) {
    const Table s = gen->sample(1000, k ? "b" : "a", {}, cpu_ctx(seed + 50));
    for (size_t j = 0; j < 2; ++j) {
      std::vector<double> real;
      for (size_t i = 0; i < train.n_rows(); ++i)
        if (train.labels()[i] == k) real.push_back(train.column(j).num[i]);
      const double ks = ks_statistic(real, s.column(j).num);
      std::printf("class %d column %s: KS %.4f\n", k, train.column(j).name().c_str(), ks);
      worst = std::max(worst, ks);
      EXPECT_LT(ks, 0.15) << "class " << k << " column " << j << " seed " << seed;
    }
    // The categorical column: share of the class's main value (0.7 in the data).
    const int32_t main = k ? 2 : 0;
    const double share =
        static_cast<double>(std::count(s.column(2).codes.begin(), s.column(2).codes.end(), main)) /
        1000.0;
    std::printf("class %d: share of its main category %.3f\n", k, share);
    EXPECT_NEAR(share, 0.7, 0.1);
  }
  std::printf("worst KS %.4f\n", worst);
  // Detection: the training rows against as many synthetic rows per class.
  const Table synth =
      fixtures::sample_like(*gen, train, [&](size_t c) { return cpu_ctx(seed + 60 + c); });
  const double auc = detection_auc(train, synth, 5);
  std::printf("detection AUC %.3f\n", auc);
  EXPECT_LT(auc, kMaxAuc) << "seed " << seed;
}

}  // namespace
}  // namespace rareforge::generators
