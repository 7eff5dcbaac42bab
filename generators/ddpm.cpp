// `ddpm`: tabular diffusion (TabDDPM, Kotelnikov et al., ICML 2023) in LibTorch. Contract:
// core/generator.h; the diffusion math: generators/diffusion.h; user documentation:
// docs/GENERATORS.md ("ddpm").
//
// Where this differs from the reference (yandex-research/tab-ddpm), and why:
//   * The denoiser reads the categorical part of x_t as one-hot vectors (the reference feeds the
//     clamped log one-hot, i.e. 0 and -69, into the first Linear layer).
//   * Classes: the label embedding has one extra "no class" row, used for classifier-free
//     guidance (label_dropout at training, guidance at sampling; both off by default).
//   * EMA of the weights with the usual warm-up, decay_k = min(ema, (1 + k) / (10 + k)) at step
//     k: with a constant 0.999 a short run (CPU, tests) samples from weights still ~e^{-k/1000}
//     at their random initialisation. From step ~10,000 on it is the reference's 0.999.
//   * Fast sampling: the strided sampler of diffusion.h (DDIM for the numeric part, the strided
//     multinomial posterior for the categorical part); sample_steps = timesteps and eta = 1 is
//     the reference's ancestral sampler (with the posterior variance instead of beta_t).
//   * Predicted clean numeric values are clipped to the range of the quantile transform
//     (+-5.2) at every sampling step, and log-probabilities are clamped at log(1e-30).
//   * `where` conditions are not supported (the reference has none either): InputError.
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/generator.h"
#include "core/progress.h"
#include "generators/cuda_graph.h"
#include "generators/diffusion.h"
#include "generators/register.h"
#include "generators/torch_util.h"
#include "generators/transformer.h"

namespace rareforge::generators {

namespace {

using torch::Tensor;

constexpr uint64_t kFitSalt = 0x64647066;     // "ddpf"
constexpr uint64_t kSampleSalt = 0x64647073;  // "ddps" (+ class code)
/// Training steps between two host synchronisations (loss check, snapshot, progress line).
constexpr int64_t kCheckEvery = 100;

// --- parameters ------------------------------------------------------------------------------

struct DdpmParams {
  int64_t timesteps = 1000;     ///< diffusion steps T
  int64_t train_steps = 30000;  ///< optimiser steps (unless epochs > 0)
  int64_t epochs = 0;           ///< > 0: passes over the rows instead of train_steps
  int64_t batch = 4096;         ///< rows per step (capped at the table size)
  double lr = 2e-3;             ///< AdamW learning rate, decayed linearly to 0
  double weight_decay = 0.0;    ///< AdamW weight decay
  std::vector<int64_t> hidden{256, 512, 512, 256};  ///< denoiser hidden layer widths
  int64_t dim_t = 128;                              ///< width of the time/label embedding (even)
  double dropout = 0.0;                             ///< denoiser dropout
  double ema = 0.999;                               ///< EMA decay of the weights used for sampling
  double label_dropout = 0.0;  ///< training: probability of the "no class" label (guidance)
  double guidance = 0.0;       ///< sampling: classifier-free guidance scale (0 = off)
  int64_t sample_steps = 100;  ///< sampling: strided sampler steps (timesteps = every step)
  double eta = 1.0;            ///< sampling: DDIM noise (0 deterministic, 1 DDPM-like)
  int64_t n_quantiles = 1000;  ///< quantile transform landmarks
  bool cuda_graph = true;      ///< on CUDA: capture the training step as a CUDA graph
};

std::vector<ParamDef> ddpm_param_defs() {
  const DdpmParams d;
  auto num = [](double v) { return format_double(v); };
  std::vector<ParamDef> v;
  v.push_back(int_param("timesteps", std::to_string(d.timesteps), 2, 100000,
                        "diffusion steps T of the cosine schedule"));
  v.push_back(int_param("train_steps", std::to_string(d.train_steps), 1, 100000000,
                        "optimiser steps (ignored when epochs > 0)"));
  v.push_back(int_param("epochs", std::to_string(d.epochs), 0, 1000000,
                        "when > 0: passes over the training rows, overriding train_steps"));
  v.push_back(int_param("batch", std::to_string(d.batch), 1, 10000000,
                        "rows per step (capped at the table size)"));
  v.push_back(double_param("lr", num(d.lr), 1e-12, 1e9, "AdamW learning rate (linear decay to 0)"));
  v.push_back(double_param("weight_decay", num(d.weight_decay), 0, 10, "AdamW weight decay"));
  v.push_back(string_param("hidden", layer_widths_text(d.hidden),
                           "denoiser hidden layer widths joined by '-'"));
  v.push_back(int_param("dim_t", std::to_string(d.dim_t), 2, 100000,
                        "time and label embedding width (even)"));
  v.push_back(double_param("dropout", num(d.dropout), 0, 0.99, "denoiser dropout"));
  v.push_back(double_param("ema", num(d.ema), 0, 0.999999,
                           "decay of the moving average of the weights used for sampling"));
  v.push_back(double_param("label_dropout", num(d.label_dropout), 0, 0.9,
                           "training: probability of replacing the class by 'no class' (needed "
                           "for guidance)"));
  v.push_back(double_param("guidance", num(d.guidance), 0, 100,
                           "sampling: classifier-free guidance scale, 0 = off (needs "
                           "label_dropout > 0)"));
  v.push_back(int_param("sample_steps", std::to_string(d.sample_steps), 1, 100000,
                        "sampling: strided sampler steps (= timesteps: every step)"));
  v.push_back(double_param("eta", num(d.eta), 0, 1,
                           "sampling: DDIM noise for the numeric part (0 deterministic, 1 "
                           "ancestral-like)"));
  v.push_back(int_param("n_quantiles", std::to_string(d.n_quantiles), 10, 100000,
                        "quantile transform landmarks per numeric column"));
  v.push_back(bool_param("cuda_graph", "true",
                         "on a CUDA device, capture the training step once and replay it as a "
                         "CUDA graph (ignored on the CPU)"));
  return v;
}

DdpmParams params_from(const ParamValues& p) {
  DdpmParams c;
  c.timesteps = p.get_int("timesteps");
  c.train_steps = p.get_int("train_steps");
  c.epochs = p.get_int("epochs");
  c.batch = p.get_int("batch");
  c.lr = p.get_double("lr");
  c.weight_decay = p.get_double("weight_decay");
  c.hidden = parse_layer_widths("ddpm", "hidden", p.get_string("hidden"));
  c.dim_t = p.get_int("dim_t");
  c.dropout = p.get_double("dropout");
  c.ema = p.get_double("ema");
  c.label_dropout = p.get_double("label_dropout");
  c.guidance = p.get_double("guidance");
  c.sample_steps = p.get_int("sample_steps");
  c.eta = p.get_double("eta");
  c.n_quantiles = p.get_int("n_quantiles");
  c.cuda_graph = p.get_bool("cuda_graph");
  RF_CHECK_INPUT(c.dim_t % 2 == 0, "ddpm: dim_t={} must be even (e.g. dim_t={})", c.dim_t,
                 c.dim_t + 1);
  RF_CHECK_INPUT(c.guidance == 0 || c.label_dropout > 0,
                 "ddpm: guidance={} needs a model trained with label_dropout > 0 (e.g. "
                 "label_dropout=0.1), which learns the unconditional rows guidance contrasts with",
                 format_double(c.guidance));
  return c;
}

// --- the generator ---------------------------------------------------------------------------

class Ddpm : public Generator {
 public:
  Ddpm(const DdpmParams& p, std::string spec) : Generator(std::move(spec)), p_(p) {}

  bool fitted() const override { return fitted_; }
  const Schema& schema() const override {
    RF_CHECK(fitted_, "ddpm: schema() before fit or load");
    return tr_.schema();
  }
  void fit(const Table& train, const Context& ctx, bool resume) override;
  Table sample(int64_t n, const std::string& cls, const Conditions& where,
               const Context& ctx) const override;
  void save(const std::string& path) const override;
  void load(const std::string& path, const Context& ctx) override;

 private:
  /// Numeric / categorical split of the encoded matrix, and the diffusion for it.
  void build_layout();
  /// Fresh networks and optimiser on `dev` (EMA starts as a copy of the model).
  void build_nets(const torch::Device& dev);
  int64_t n_labels() const { return tr_.n_classes() + 1; }  // + "no class"
  nlohmann::json meta() const;

  DdpmParams p_;
  bool fitted_ = false;
  DataTransformer tr_;
  std::vector<int64_t> class_counts_;
  std::vector<int64_t> num_cols_;    ///< encoded columns of the kGaussian spans, in order
  std::vector<int64_t> cat_cols_;    ///< encoded columns of the kSoftmax spans, in layout order
  std::vector<int64_t> cat_widths_;  ///< widths of those spans, in layout order
  int64_t steps_done_ = 0;
  std::string trained_on_ = "cpu";
  torch::Device device_{torch::kCPU};
  TabDiffusion diff_;
  mutable Denoiser model_{nullptr};
  mutable Denoiser ema_{nullptr};
  std::unique_ptr<torch::optim::AdamW> opt_;
};

void Ddpm::build_layout() {
  num_cols_.clear();
  cat_cols_.clear();
  std::vector<const Span*> cats;
  for (const Span& s : tr_.spans()) {
    if (s.kind == Span::Kind::kGaussian) {
      for (int64_t j = 0; j < s.width; ++j) num_cols_.push_back(s.start + j);
    } else {
      RF_CHECK(s.kind == Span::Kind::kSoftmax, "ddpm: unexpected span kind for column {}",
               s.column);
      cats.push_back(&s);
    }
  }
  std::vector<int64_t> widths;
  for (const Span* s : cats) widths.push_back(s->width);
  const CatLayout lay = CatLayout::make(widths);
  cat_widths_.clear();
  for (int64_t i : lay.order) {
    const Span* s = cats[static_cast<size_t>(i)];
    for (int64_t j = 0; j < s->width; ++j) cat_cols_.push_back(s->start + j);
    cat_widths_.push_back(s->width);
  }
}

void Ddpm::build_nets(const torch::Device& dev) {
  // cat_widths_ is in layout order already, so the diffusion's layout keeps that order.
  diff_ = TabDiffusion(p_.timesteps, static_cast<int64_t>(num_cols_.size()), cat_widths_, dev);
  const int64_t d = static_cast<int64_t>(num_cols_.size() + cat_cols_.size());
  model_ = Denoiser(d, n_labels(), p_.hidden, p_.dropout, p_.dim_t);
  ema_ = Denoiser(d, n_labels(), p_.hidden, p_.dropout, p_.dim_t);
  model_->to(dev);
  ema_->to(dev);
  {
    torch::NoGradGuard no_grad;
    const auto src = model_->parameters();
    auto dst = ema_->parameters();
    for (size_t i = 0; i < src.size(); ++i) dst[i].copy_(src[i]);
  }
  for (auto& p : ema_->parameters()) p.set_requires_grad(false);
  ema_->eval();
  opt_ = std::make_unique<torch::optim::AdamW>(
      model_->parameters(), torch::optim::AdamWOptions(p_.lr).weight_decay(p_.weight_decay));
  device_ = dev;
}

void Ddpm::fit(const Table& train, const Context& ctx, bool resume) {
  RF_CHECK_INPUT(train.has_target(),
                 "ddpm: the training table has no target column; name it with --target");
  RF_CHECK_INPUT(train.n_rows() >= 1, "ddpm: the training table has no rows");
  RF_CHECK_INPUT(train.n_classes() >= 2, "ddpm: the target '{}' has {} class(es); need at least 2",
                 train.target(), train.n_classes());
  RF_CHECK_INPUT(train.n_cols() >= 2,
                 "ddpm: the training table has no feature columns besides the target '{}'",
                 train.target());
  const torch::Device dev = torch_device(ctx);
  set_torch_threads(ctx);
  if (resume) {
    RF_CHECK_INPUT(fitted_, "ddpm: --resume needs a model loaded from a checkpoint");
    RF_CHECK_INPUT(train.schema() == tr_.schema(),
                   "ddpm: --resume: the data's columns differ from the checkpoint's schema; "
                   "resume with the table the model was trained on");
    RF_CHECK_INPUT(device_ == dev,
                   "ddpm: --resume on {}: the model was loaded onto {}; load and resume with "
                   "the same --device",
                   dev.str(), device_.str());
  } else {
    TransformerOptions topt;
    topt.numeric = TransformerOptions::Numeric::kQuantile;
    topt.n_quantiles = static_cast<int>(p_.n_quantiles);
    DataTransformer tr;
    tr.fit(train, topt, ctx);
    RF_CHECK_INPUT(tr.output_dim() > 0, "ddpm: the table has no feature columns to model");
    tr_ = std::move(tr);
    class_counts_ = train.class_counts();
    build_layout();
    steps_done_ = 0;
    fitted_ = false;
    seed_torch(ctx, kFitSalt);  // initial weights
    build_nets(dev);
  }
  trained_on_ = dev.str();
  // A resumed run draws from its own stream (salted by the steps done), so it is reproducible
  // but not identical to an uninterrupted one.
  seed_torch(ctx, kFitSalt + 1 + static_cast<uint64_t>(steps_done_));

  // The encoded table, split into its numeric and categorical parts, lives on the device.
  Rng enc_rng = ctx.rng(streams::kGenerator);
  const MatrixRM enc = tr_.transform(train, enc_rng);
  const int64_t n = enc.rows();
  const auto i64 = torch::TensorOptions().dtype(torch::kInt64).device(dev);
  const Tensor x = to_device_float(enc, dev);
  const Tensor x_num = x.index_select(1, torch::tensor(num_cols_, torch::kInt64).to(dev));
  const Tensor x_cat = x.index_select(1, torch::tensor(cat_cols_, torch::kInt64).to(dev));
  const Tensor y = to_device_long(train.labels(), dev);
  RF_CHECK(x.isfinite().all().item<bool>(), "ddpm: the transformer produced non-finite values");

  const int64_t b = std::min<int64_t>(p_.batch, n);
  const int64_t per_epoch = (n + b - 1) / b;
  // This call's steps (a resumed run adds as many again), the lr decaying linearly over them.
  const int64_t run = p_.epochs > 0 ? p_.epochs * per_epoch : p_.train_steps;
  const int64_t first = steps_done_, end = steps_done_ + run;
  const int64_t null_label = tr_.n_classes();

  model_->train();
  StateSnapshot snap;
  std::vector<torch::nn::Module*> mods{model_.ptr().get(), ema_.ptr().get()};
  std::vector<torch::optim::Optimizer*> opts{opt_.get()};
  if (fitted_) snap.take(mods, opts);
  Progress progress("ddpm fit", static_cast<uint64_t>(run), "steps", ctx.quiet);
  auto params = model_->parameters();
  auto ema_params = ema_->parameters();
  // On a GPU the optimiser's step factors, the learning rate and the EMA weight are device
  // tensors filled before each step, and each batch size's step is captured once as a CUDA
  // graph (cuda_graph.h) whose input is the batch's row indices.
  const bool cuda = dev.is_cuda();
  std::unique_ptr<DeviceAdam> adam;
  if (cuda) adam = std::make_unique<DeviceAdam>(*opt_);
  const Tensor ema_weight = torch::zeros({}, x.options());
  BatchStepGraphs graphs(dev, cuda && p_.cuda_graph);
  const Tensor sum_g = torch::zeros({}, x.options()), sum_m = torch::zeros({}, x.options());
  auto train_step = [&](const Tensor& idx) {
    const DiffusionLoss L =
        diff_.loss(model_, x_num.index_select(0, idx), x_cat.index_select(0, idx),
                   y.index_select(0, idx), p_.label_dropout, null_label);
    drop_grads(*opt_);
    L.total().backward();
    if (adam) {
      adam->apply();
      ema_update(ema_params, params, ema_weight);
    } else {
      optimizer_step(*opt_);
    }
    sum_g.add_(L.gauss.detach());
    sum_m.add_(L.multinomial.detach());
  };
  Tensor perm;
  int64_t since = 0;
  for (int64_t step = first; step < end; ++step) {
    const int64_t pos = (step % per_epoch) * b;
    if (pos == 0 || !perm.defined()) perm = torch::randperm(n, i64);
    const double lr = p_.lr * (1.0 - static_cast<double>(step - first) / static_cast<double>(run));
    const double ema_w = 1.0 - std::min(p_.ema, (1.0 + step) / (10.0 + step));
    if (adam) {
      adam->prepare(lr);
      ema_weight.fill_(ema_w);
    } else {
      for (auto& g : opt_->param_groups())
        static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
    }
    graphs.run(perm.narrow(0, pos, std::min(b, n - pos)), train_step);
    if (!adam) ema_update(ema_params, params, ema_w);
    ++since;
    if (since == kCheckEvery || step + 1 == end) {
      // The host synchronisation: mean losses since the last check, NaN check, snapshot.
      if (adam) adam->sync_state();
      const Tensor l = (torch::stack({sum_g, sum_m}) / static_cast<double>(since)).cpu();
      const double lg = l[0].item<double>(), lm = l[1].item<double>();
      if (!std::isfinite(lg) || !std::isfinite(lm)) {
        const bool restored = snap.restore(mods, opts);
        fitted_ = restored;
        throw TrainingDiverged(fmt::format(
            "ddpm: the {} loss became {} between steps {} and {}; training stopped{} (lower lr, "
            "or check the data for extreme values)",
            std::isfinite(lg) ? "multinomial" : "gaussian",
            format_double(std::isfinite(lg) ? lm : lg), step + 2 - since, step + 1,
            restored ? fmt::format(" and the model keeps its state after step {}", steps_done_)
                     : " before any good state was reached"));
      }
      steps_done_ = step + 1;
      fitted_ = true;
      snap.take(mods, opts);
      progress.note(fmt::format("loss {:.4g} (gauss {:.4g}, multinomial {:.4g})", lg + lm, lg, lm));
      progress.set(static_cast<uint64_t>(steps_done_ - first));
      sum_g.zero_();
      sum_m.zero_();
      since = 0;
    }
  }
  progress.finish();
  drop_grads(*opt_);  // (on a GPU they live in the graphs' memory pools)
  model_->eval();
  fitted_ = true;
}

Table Ddpm::sample(int64_t n, const std::string& cls, const Conditions& where,
                   const Context& ctx) const {
  RF_CHECK(fitted_, "ddpm: sample() before fit or load");
  RF_CHECK_INPUT(n >= 0, "ddpm: --n must be >= 0 (got {})", n);
  const int32_t code = class_code(tr_.schema(), cls, "ddpm");
  RF_CHECK_INPUT(where.empty(),
                 "ddpm: --where is not supported: ddpm conditions on the class only (drop "
                 "--where, or use ctgan, which conditions on one categorical value)");
  set_torch_threads(ctx);
  seed_torch(ctx, kSampleSalt + static_cast<uint64_t>(code));
  torch::NoGradGuard no_grad;
  ema_->eval();
  SampleOptions so;
  so.steps = p_.sample_steps;
  so.eta = p_.eta;
  so.guidance = p_.guidance;
  so.null_label = tr_.n_classes();
  const int64_t chunk = device_.is_cuda() ? 131072 : 16384;
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(device_);
  const Tensor num_idx = torch::tensor(num_cols_, torch::kInt64).to(device_);
  const Tensor cat_idx = torch::tensor(cat_cols_, torch::kInt64).to(device_);
  std::vector<Tensor> parts;
  for (int64_t done = 0; done < n; done += chunk) {
    const int64_t m = std::min(chunk, n - done);
    const DiffusionSample s = diff_.sample(ema_, m, code, so);
    Tensor enc = torch::zeros({m, tr_.output_dim()}, f32);
    if (!num_cols_.empty()) enc.index_copy_(1, num_idx, s.x_num);
    if (!cat_cols_.empty()) enc.index_copy_(1, cat_idx, s.x_cat);
    parts.push_back(enc.to(torch::kCPU));
  }
  const MatrixRM enc = n > 0 ? to_matrix(torch::cat(parts)) : MatrixRM(0, tr_.output_dim());
  Table out = tr_.inverse(enc, std::vector<int32_t>(static_cast<size_t>(n), code));
  set_synthetic_provenance(out, spec());
  return out;
}

// --- checkpoints -----------------------------------------------------------------------------
//
// Payload (torch_util.h layout): modules "model" (the trained weights, for --resume) and "ema"
// (the averaged weights sample() uses), optimiser "adamw", and meta JSON {"format":
// "rareforge-ddpm", "version": 1, "steps_done", "class_counts", "trained_on", "transformer"}.

nlohmann::json Ddpm::meta() const {
  nlohmann::json m;
  m["format"] = "rareforge-ddpm";
  m["version"] = 1;
  m["steps_done"] = steps_done_;
  m["class_counts"] = class_counts_;
  m["trained_on"] = trained_on_;
  m["transformer"] = tr_.to_json();
  return m;
}

void Ddpm::save(const std::string& path) const {
  RF_CHECK(fitted_, "ddpm: save() before fit");
  const CheckpointHeader h =
      make_checkpoint_header("ddpm", spec(), trained_on_, tr_.schema(), class_counts_);
  write_checkpoint(path, h, {{"model", model_.ptr().get()}, {"ema", ema_.ptr().get()}},
                   {{"adamw", opt_.get()}}, meta());
}

void Ddpm::load(const std::string& path, const Context& ctx) {
  const torch::Device dev = torch_device(ctx);
  CheckpointReader rd(path, "ddpm", dev);
  // The networks' shapes and the schedule come from the checkpoint's spec and must match this
  // object's; the training and sampling parameters are this object's (a model built with more
  // train_steps can --resume a shorter run; sample_steps can differ).
  const DdpmParams saved =
      params_from(check_params(parse_method_spec(rd.header().spec), ddpm_param_defs()));
  rd.require_same_architecture({{"timesteps", saved.timesteps == p_.timesteps},
                                {"hidden", saved.hidden == p_.hidden},
                                {"dim_t", saved.dim_t == p_.dim_t},
                                {"dropout", saved.dropout == p_.dropout},
                                {"n_quantiles", saved.n_quantiles == p_.n_quantiles}});
  rd.require_meta_format("rareforge-ddpm", 1);
  const nlohmann::json& m = rd.meta();
  try {
    tr_ = DataTransformer::from_json(m.at("transformer"));
    steps_done_ = m.at("steps_done").get<int64_t>();
    class_counts_ = m.at("class_counts").get<std::vector<int64_t>>();
    trained_on_ = m.at("trained_on").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    RF_THROW_INPUT("ddpm: model file '{}' has malformed metadata ({})", path, e.what());
  }
  RF_CHECK_INPUT(tr_.schema() == rd.header().schema,
                 "ddpm: model file '{}': the header's schema differs from the model's", path);
  build_layout();
  build_nets(dev);
  rd.load_module("model", *model_);
  rd.load_module("ema", *ema_);
  rd.load_optimizer("adamw", *opt_);
  for (auto& p : ema_->parameters()) p.set_requires_grad(false);
  model_->eval();
  ema_->eval();
  fitted_ = true;
}

}  // namespace

void register_ddpm() {
  GeneratorInfo info;
  info.name = "ddpm";
  info.description =
      "tabular diffusion (TabDDPM): Gaussian diffusion on quantile-normalised numbers, "
      "multinomial diffusion on categories, class-conditional, strided fast sampling";
  info.params = ddpm_param_defs();
  info.create = [](const ParamValues& p,
                   const std::string& canonical) -> std::unique_ptr<Generator> {
    return std::make_unique<Ddpm>(params_from(p), canonical);
  };
  register_generator(std::move(info));
}

}  // namespace rareforge::generators
