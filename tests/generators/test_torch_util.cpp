// Shared generator helpers (generators/torch_util.h, cuda_graph.h): checkpoint archive round trip
// with the optimiser state, state snapshots, loss checks, class lookup, layer widths, the
// optimiser steps; on a GPU (*_CUDA) a captured training step against the eager one.
#include <torch/torch.h>

#include <cmath>
#include <string>

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/generator.h"
#include "generators/cuda_graph.h"
#include "generators/register.h"
#include "generators/torch_util.h"
#include "tests/generators/mixed_table.h"
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

// Two copies of one small network (same initial parameters, from `seed`) and the regression
// data both train on: the optimiser-step tests train one with LibTorch's step and one with ours.
struct TwinNets {
  torch::nn::Sequential a, b;
  torch::Tensor x, y;
};

TwinNets twin_nets(uint64_t seed) {
  torch::manual_seed(seed);
  TwinNets t{
      torch::nn::Sequential(torch::nn::Linear(3, 5), torch::nn::Tanh(), torch::nn::Linear(5, 1)),
      torch::nn::Sequential(torch::nn::Linear(3, 5), torch::nn::Tanh(), torch::nn::Linear(5, 1)),
      torch::linspace(-1, 1, 24).view({8, 3}),
      {}};
  t.y = t.x.sum(1, true).sin();
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < t.a->parameters().size(); ++i)
    t.b->parameters()[i].copy_(t.a->parameters()[i]);
  return t;
}

// optimizer_step (the _foreach form) against LibTorch's own step(), over steps that include the
// first (which falls back to step() to create the state): parameters and both moments equal bit
// for bit, with weight decay, for Adam (decay added to the gradient) and AdamW (decoupled).
template <class Opt, class Options, class State>
void expect_same_as_builtin(double weight_decay) {
  auto [a, b, x, y] = twin_nets(3);
  Opt oa(a->parameters(), Options(0.01).betas({0.5, 0.9}).weight_decay(weight_decay));
  Opt ob(b->parameters(), Options(0.01).betas({0.5, 0.9}).weight_decay(weight_decay));
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

TEST(TorchUtil, EmaUpdateWithTensorWeightIsLerp) {
  torch::manual_seed(5);
  const std::vector<torch::Tensor> p = {torch::randn({3, 4}), torch::randn({5})};
  std::vector<torch::Tensor> ema = {torch::randn({3, 4}), torch::randn({5})};
  std::vector<torch::Tensor> want;
  for (size_t i = 0; i < ema.size(); ++i) want.push_back(ema[i].lerp(p[i], 0.125));
  ema_update(ema, p, torch::full({}, 0.125));
  for (size_t i = 0; i < ema.size(); ++i)
    EXPECT_TRUE(torch::allclose(ema[i], want[i], 1e-6, 1e-7)) << i;
}

// DeviceAdam (the step factors in tensors) follows LibTorch's Adam / AdamW step to float
// rounding, creates the state LibTorch's first step would, honours a learning-rate override and
// writes its step count back; two slots per prepare() are two consecutive steps.
template <class Opt, class Options, class State>
void expect_device_adam_like_builtin(double weight_decay, int64_t slots) {
  auto [a, b, x, y] = twin_nets(6);
  Opt oa(a->parameters(), Options(0.01).betas({0.5, 0.9}).weight_decay(weight_decay));
  Opt ob(b->parameters(), Options(0.01).betas({0.5, 0.9}).weight_decay(weight_decay));
  DeviceAdam dev(ob, slots);
  EXPECT_EQ(ob.state().size(), b->parameters().size());  // created, at step 0
  for (int step = 0; step < 6; step += static_cast<int>(slots)) {
    const double lr = 0.02 * (1.0 - step / 12.0);  // a decaying rate, as ddpm's
    dev.prepare(lr);
    for (int64_t k = 0; k < slots; ++k) {
      for (auto& g : oa.param_groups()) static_cast<Options&>(g.options()).lr(lr);
      oa.zero_grad();
      (a->forward(x) - y).pow(2).mean().backward();
      oa.step();
      drop_grads(ob);
      (b->forward(x) - y).pow(2).mean().backward();
      dev.apply(k);
      for (size_t i = 0; i < a->parameters().size(); ++i)
        ASSERT_TRUE(torch::allclose(a->parameters()[i], b->parameters()[i], 1e-5, 1e-7))
            << "step " << step + k << ", weight decay " << weight_decay << ", parameter " << i
            << ", largest difference "
            << (a->parameters()[i] - b->parameters()[i]).abs().max().item<double>();
    }
  }
  EXPECT_EQ(dev.step_count(), 6);
  dev.sync_state();
  for (const auto& kv : ob.state()) EXPECT_EQ(static_cast<const State&>(*kv.second).step(), 6);
}

TEST(TorchUtil, DeviceAdamFollowsLibTorchsStep) {
  using torch::optim::Adam, torch::optim::AdamOptions, torch::optim::AdamParamState;
  using torch::optim::AdamW, torch::optim::AdamWOptions, torch::optim::AdamWParamState;
  expect_device_adam_like_builtin<Adam, AdamOptions, AdamParamState>(0.0, 1);
  expect_device_adam_like_builtin<Adam, AdamOptions, AdamParamState>(1e-2, 2);
  expect_device_adam_like_builtin<AdamW, AdamWOptions, AdamWParamState>(0.0, 1);
  expect_device_adam_like_builtin<AdamW, AdamWOptions, AdamWParamState>(1e-2, 3);
}

// Without a GPU (or with capture off) a StepGraph runs the step every time and replays nothing.
TEST(CudaGraph, StepGraphOnTheCpuRunsEagerly) {
  const int64_t replays = cuda_graph_replays();
  StepGraph g(torch::Device(torch::kCPU), true);
  int calls = 0;
  for (int i = 0; i < 4; ++i) g.run([&] { ++calls; });
  EXPECT_EQ(calls, 4);
  EXPECT_FALSE(g.captured());
  BatchStepGraphs bg(torch::Device(torch::kCPU), true);
  const torch::Tensor idx = torch::arange(5);
  bg.run(idx, [&](const torch::Tensor& t) {
    EXPECT_TRUE(torch::equal(t, idx));
    ++calls;
  });
  EXPECT_EQ(calls, 5);
  EXPECT_EQ(cuda_graph_replays(), replays);
}

// On a GPU: a training step (BatchNorm, dropout, random batches, DeviceAdam) captured as a CUDA
// graph and replayed gives the parameters the same steps give eagerly, from the same seed.
TEST(CudaGraph, CapturedStepMatchesEagerSteps_CUDA) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA GPU visible to LibTorch";
  ASSERT_TRUE(cuda_graphs_built()) << "a CUDA LibTorch without CUDA-graph support compiled in";
  const torch::Device dev(torch::kCUDA, 0);
  auto train = [&](bool graphed) {
    torch::manual_seed(11);
    torch::nn::Sequential net(torch::nn::Linear(6, 32), torch::nn::BatchNorm1d(32),
                              torch::nn::ReLU(), torch::nn::Dropout(0.3), torch::nn::Linear(32, 1));
    net->to(dev);
    torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(1e-2).weight_decay(1e-4));
    DeviceAdam adam(opt);
    const torch::Tensor x = torch::randn({256, 6}, torch::TensorOptions().device(dev));
    const torch::Tensor y = x.narrow(1, 0, 2).sum(1, true).tanh();
    const torch::Tensor loss_sum = torch::zeros({}, x.options());
    StepGraph graph(dev, graphed);
    for (int step = 0; step < 12; ++step) {
      adam.prepare();
      graph.run([&] {
        const torch::Tensor idx = torch::randint(256, {64}, x.options().dtype(torch::kInt64));
        const torch::Tensor loss =
            (net->forward(x.index_select(0, idx)) - y.index_select(0, idx)).pow(2).mean();
        drop_grads(opt);
        loss.backward();
        adam.apply();
        loss_sum.add_(loss.detach());
      });
    }
    EXPECT_EQ(graph.captured(), graphed);
    std::vector<torch::Tensor> out;
    for (const auto& p : net->parameters()) out.push_back(p.detach().cpu());
    for (const auto& b : net->buffers()) out.push_back(b.detach().cpu().to(torch::kFloat64));
    out.push_back(loss_sum.cpu());
    return out;
  };
  const int64_t before = cuda_graph_replays();
  const auto eager = train(false);
  EXPECT_EQ(cuda_graph_replays(), before);
  const auto graphed = train(true);
  EXPECT_EQ(cuda_graph_replays(), before + 11);  // step 1 warms up, 2 captures and replays
  ASSERT_EQ(eager.size(), graphed.size());
  for (size_t i = 0; i < eager.size(); ++i)
    EXPECT_TRUE(torch::allclose(eager[i], graphed[i], 1e-5, 1e-6))
        << "tensor " << i << ": largest difference "
        << (eager[i] - graphed[i]).abs().max().item<double>();
}

// On a GPU: each deep generator trained with its step captured as a CUDA graph gives the samples
// it gives when every step runs eagerly, from the same seed (both on the GPU); its saved model
// samples on the CPU.
TEST(CudaGraph, GeneratorsTrainAlikeWithAndWithoutGraphs_CUDA) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA GPU visible to LibTorch";
  register_all();
  const Table train = fixtures::mixed_table(700, 21);  // partial last batches for tvae and ddpm
  Context gpu = fixtures::ctx_with(5);
  gpu.device = Device::parse("cuda");
  for (const std::string spec :
       {"ctgan:epochs=3,batch=100,generator_dim=64-64,discriminator_dim=64-64",
        "tvae:epochs=3,batch=128,compress_dims=64-64,decompress_dims=64-64",
        "ddpm:timesteps=100,train_steps=40,batch=256,hidden=64-64,dim_t=32,sample_steps=20"}) {
    SCOPED_TRACE(spec);
    const int64_t before = cuda_graph_replays();
    auto eager = make_generator(spec + ",cuda_graph=false");
    eager->fit(train, gpu);
    EXPECT_EQ(cuda_graph_replays(), before);
    auto graphed = make_generator(spec);
    graphed->fit(train, gpu);
    EXPECT_GT(cuda_graph_replays(), before);
    const Table a = eager->sample(300, "b", {}, gpu), b = graphed->sample(300, "b", {}, gpu);
    ASSERT_EQ(a.n_rows(), b.n_rows());
    for (size_t j = 0; j < a.n_cols(); ++j) {
      const Column& ca = a.column(j);
      const Column& cb = b.column(j);
      size_t differ = 0;
      double worst = 0;
      for (size_t i = 0; i < a.n_rows(); ++i) {
        if (ca.is_numeric()) {
          const double d = std::abs(ca.num[i] - cb.num[i]);
          worst = std::max(worst, d);
          differ += d > 1e-3 * (1 + std::abs(ca.num[i]));
        } else {
          differ += ca.codes[i] != cb.codes[i];
        }
      }
      std::printf("%s column %zu: %zu of %zu rows differ, largest numeric difference %.3g\n",
                  spec.c_str(), j, differ, a.n_rows(), worst);
      EXPECT_LE(differ, a.n_rows() / 50) << "column " << j;
    }
    // The GPU-trained model, saved, loads and samples on the CPU: exactly the asked class.
    test::TempDir dir;
    graphed->save(dir.file("m.rfm"));
    const Context cpu = fixtures::ctx_with(5);
    auto back = load_generator(dir.file("m.rfm"), cpu);
    const Table c = back->sample(50, "b", {}, cpu);
    ASSERT_EQ(c.n_rows(), 50u);
    EXPECT_EQ(c.schema(), train.schema());
    for (int32_t l : c.labels()) EXPECT_EQ(l, 1);
  }
}

}  // namespace
}  // namespace rareforge::generators
