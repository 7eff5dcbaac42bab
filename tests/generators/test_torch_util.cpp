// Shared generator helpers (generators/torch_util.h): checkpoint archive round trip with the
// optimiser state, state snapshots, loss checks, class lookup, layer widths. CPU only.
#include <torch/torch.h>

#include <cmath>
#include <string>

#include <gtest/gtest.h>

#include "core/error.h"
#include "generators/torch_util.h"
#include "tests/test_util.h"

namespace rareforge::generators {
namespace {

Schema two_class_schema() {
  Schema s;
  s.columns.push_back({"x", ColumnKind::kNumeric, {}});
  s.columns.push_back({"y", ColumnKind::kCategorical, {"no", "yes"}});
  s.target = "y";
  return s;
}

// A few Adam steps on a fixed regression problem.
void train_steps(torch::nn::Linear& net, torch::optim::Adam& opt, int steps) {
  const torch::Tensor x = torch::linspace(-1, 1, 24).view({8, 3});
  const torch::Tensor y = x.sum(1, true) * 0.5 + 1;
  for (int i = 0; i < steps; ++i) {
    opt.zero_grad();
    const torch::Tensor loss = (net->forward(x) - y).pow(2).mean();
    loss.backward();
    opt.step();
  }
}

bool same_params(const torch::nn::Module& a, const torch::nn::Module& b) {
  const auto pa = a.parameters(), pb = b.parameters();
  if (pa.size() != pb.size()) return false;
  for (size_t i = 0; i < pa.size(); ++i)
    if (!torch::equal(pa[i], pb[i])) return false;
  return true;
}

TEST(TorchUtil, CheckpointKeepsModulesOptimiserAndMeta) {
  torch::manual_seed(1);
  torch::nn::Linear net(3, 1);
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(0.05));
  train_steps(net, opt, 3);
  test::TempDir dir;
  const std::string path = dir.file("m.rfm");
  const CheckpointHeader h =
      make_checkpoint_header("toy", "toy:k=1", "cpu", two_class_schema(), {5, 7});
  write_checkpoint(path, h, {{"net", net.ptr().get()}}, {{"adam", &opt}},
                   nlohmann::json{{"answer", 42}, {"pi", 3.141592653589793}});
  EXPECT_EQ(dir.n_entries(), 1u);

  torch::manual_seed(2);  // a different initialisation, overwritten by the load
  torch::nn::Linear back(3, 1);
  CheckpointReader r(path, "toy", torch::Device(torch::kCPU));
  EXPECT_EQ(r.header().spec, "toy:k=1");
  EXPECT_EQ(r.header().class_counts, (std::vector<int64_t>{5, 7}));
  EXPECT_EQ(r.meta().at("answer"), 42);
  EXPECT_EQ(r.meta().at("pi").get<double>(), 3.141592653589793);
  EXPECT_TRUE(r.has_module("net"));
  EXPECT_FALSE(r.has_module("other"));
  r.load_module("net", *back);
  EXPECT_TRUE(same_params(*net, *back));
  torch::optim::Adam back_opt(back->parameters(), torch::optim::AdamOptions(0.05));
  r.load_optimizer("adam", back_opt);
  // With the moments restored, further steps stay identical; a fresh Adam would diverge.
  train_steps(net, opt, 2);
  train_steps(back, back_opt, 2);
  EXPECT_TRUE(same_params(*net, *back));

  torch::nn::Linear wrong(4, 1);
  EXPECT_THROW(r.load_module("net", *wrong), InputError);
  EXPECT_THROW(CheckpointReader(path, "tvae", torch::Device(torch::kCPU)), InputError);
  EXPECT_THROW(CheckpointReader(dir.file("absent.rfm"), "toy", torch::Device(torch::kCPU)),
               InputError);
}

TEST(TorchUtil, SnapshotRestoresModulesAndAdamState) {
  torch::manual_seed(3);
  torch::nn::Linear net(3, 1), ref(3, 1);
  {
    torch::NoGradGuard g;
    for (size_t i = 0; i < net->parameters().size(); ++i)
      ref->parameters()[i].copy_(net->parameters()[i]);
  }
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(0.05));
  torch::optim::Adam ref_opt(ref->parameters(), torch::optim::AdamOptions(0.05));
  train_steps(net, opt, 2);
  train_steps(ref, ref_opt, 2);
  StateSnapshot snap;
  EXPECT_TRUE(snap.empty());
  snap.take({net.ptr().get()}, {&opt});
  train_steps(net, opt, 5);  // the steps a failed epoch would have taken
  EXPECT_FALSE(same_params(*net, *ref));
  ASSERT_TRUE(snap.restore({net.ptr().get()}, {&opt}));
  EXPECT_TRUE(same_params(*net, *ref));
  train_steps(net, opt, 3);
  train_steps(ref, ref_opt, 3);
  EXPECT_TRUE(same_params(*net, *ref));
}

TEST(TorchUtil, LossCheckNamesEpochAndLoss) {
  EXPECT_NO_THROW(check_finite_losses("tvae", 3, {{"loss", 1.5}, {"kl", 0.0}}));
  try {
    check_finite_losses("tvae", 7, {{"reconstruction", 1.0}, {"kl", std::nan("")}}, "keep calm");
    FAIL() << "expected Error";
  } catch (const InputError&) {
    FAIL() << "a NaN loss is not bad input";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("tvae: epoch 7: the kl loss is nan"), std::string::npos) << m;
    EXPECT_NE(m.find("keep calm"), std::string::npos) << m;
  }
  EXPECT_THROW(check_finite_losses("x", 1, {{"loss", INFINITY}}), Error);
  EXPECT_EQ(loss_note({{"loss", 1.23456}, {"kl", 0.5}}), "loss 1.235 kl 0.5");
}

TEST(TorchUtil, ClassCodesAndLayerWidths) {
  const Schema s = two_class_schema();
  EXPECT_EQ(class_code(s, "yes", "tvae"), 1);
  try {
    class_code(s, "maybe", "tvae");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("no, yes"), std::string::npos) << e.what();
  }
  EXPECT_EQ(parse_layer_widths("tvae", "compress_dims", "128-64"), (std::vector<int64_t>{128, 64}));
  EXPECT_EQ(layer_widths_text({128, 64}), "128-64");
  for (const char* bad : {"", "0", "12-", "a-1", "128,128", "200000"})
    EXPECT_THROW(parse_layer_widths("tvae", "compress_dims", bad), InputError) << bad;
}

TEST(TorchUtil, TensorsRoundTrip) {
  MatrixRM m(2, 3);
  m << 1, 2, 3, 4.5, -5, 6;
  const torch::Tensor t = to_device_float(m, torch::Device(torch::kCPU));
  EXPECT_EQ(t.dtype(), torch::kFloat32);
  EXPECT_EQ(t.size(0), 2);
  EXPECT_TRUE(to_matrix(t) == m);
  EXPECT_EQ(to_matrix(to_device_float(MatrixRM(0, 3), torch::Device(torch::kCPU))).cols(), 3);
}

// optimizer_step (the _foreach form) against LibTorch's own step(), over steps that include the
// first (which falls back to step() to create the state): parameters and both moments equal bit
// for bit, with weight decay, for Adam (decay added to the gradient) and AdamW (decoupled).
template <class Opt, class Options, class State>
void expect_same_as_builtin(double weight_decay) {
  torch::manual_seed(3);
  torch::nn::Sequential a(torch::nn::Linear(3, 5), torch::nn::Tanh(), torch::nn::Linear(5, 1));
  torch::nn::Sequential b(torch::nn::Linear(3, 5), torch::nn::Tanh(), torch::nn::Linear(5, 1));
  {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < a->parameters().size(); ++i)
      b->parameters()[i].copy_(a->parameters()[i]);
  }
  Opt oa(a->parameters(), Options(0.01).betas({0.5, 0.9}).weight_decay(weight_decay));
  Opt ob(b->parameters(), Options(0.01).betas({0.5, 0.9}).weight_decay(weight_decay));
  const torch::Tensor x = torch::linspace(-1, 1, 24).view({8, 3});
  const torch::Tensor y = x.sum(1, true).sin();
  for (int step = 0; step < 6; ++step) {
    oa.zero_grad();
    (a->forward(x) - y).pow(2).mean().backward();
    oa.step();
    drop_grads(ob);
    for (const auto& p : b->parameters()) EXPECT_FALSE(p.grad().defined());
    (b->forward(x) - y).pow(2).mean().backward();
    optimizer_step(ob);
    ASSERT_TRUE(same_params(*a, *b)) << "step " << step << ", weight decay " << weight_decay;
  }
  ASSERT_EQ(oa.state().size(), ob.state().size());
  std::vector<const State*> sa, sb;
  for (const auto& kv : oa.state()) sa.push_back(static_cast<const State*>(kv.second.get()));
  for (const auto& kv : ob.state()) sb.push_back(static_cast<const State*>(kv.second.get()));
  // The two maps hold the same set of states; compare them by their (distinct) step-6 moments.
  for (const State* s : sa) {
    EXPECT_EQ(s->step(), 6);
    bool found = false;
    for (const State* t : sb)
      found |= t->step() == 6 && s->exp_avg().sizes() == t->exp_avg().sizes() &&
               torch::equal(s->exp_avg(), t->exp_avg()) &&
               torch::equal(s->exp_avg_sq(), t->exp_avg_sq());
    EXPECT_TRUE(found);
  }
}

TEST(TorchUtil, ForeachAdamStepIsLibTorchsStep) {
  expect_same_as_builtin<torch::optim::Adam, torch::optim::AdamOptions,
                         torch::optim::AdamParamState>(0.0);
  expect_same_as_builtin<torch::optim::Adam, torch::optim::AdamOptions,
                         torch::optim::AdamParamState>(1e-2);
  expect_same_as_builtin<torch::optim::AdamW, torch::optim::AdamWOptions,
                         torch::optim::AdamWParamState>(0.0);
  expect_same_as_builtin<torch::optim::AdamW, torch::optim::AdamWOptions,
                         torch::optim::AdamWParamState>(1e-2);
}

TEST(TorchUtil, EmaUpdateIsLerp) {
  torch::manual_seed(4);
  const std::vector<torch::Tensor> p = {torch::randn({3, 4}), torch::randn({5})};
  std::vector<torch::Tensor> ema = {torch::randn({3, 4}), torch::randn({5})};
  std::vector<torch::Tensor> want;
  for (size_t i = 0; i < ema.size(); ++i) want.push_back(ema[i].lerp(p[i], 0.25));
  ema_update(ema, p, 0.25);
  for (size_t i = 0; i < ema.size(); ++i) EXPECT_TRUE(torch::equal(ema[i], want[i]));
}

}  // namespace
}  // namespace rareforge::generators
