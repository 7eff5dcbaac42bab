// `tvae`: a variational autoencoder on mode-specific normalised columns (TVAE, Xu et al. 2019),
// CONDITIONED on the class: the one-hot class is appended to the encoder input and to the
// decoder input, so sample(n, cls) returns exactly n rows of class cls without rejection (the
// reference TVAE is unconditional). See docs/GENERATORS.md "tvae".
//
// Network (defaults): encoder [x | c] -> 128 -> 128 (Linear+ReLU) -> (mu, logvar) of width 128;
// decoder [z | c] -> 128 -> 128 (Linear+ReLU) -> Linear to the encoded width, with a learned
// per-dimension sigma clamped to [0.01, 1] after every step. Loss per batch, as the reference:
//   loss_factor * (sum over tanh columns of (x - tanh(y))^2 / (2 sigma^2) + log sigma
//                  + sum over softmax spans of cross-entropy(y_span, argmax x_span)) / batch
//   + KL(q(z | x, c) || N(0, I)) / batch.
// Sampling: z ~ N(0, I), offsets tanh(y) + sigma * N(0, 1) clipped to [-1, 1], one-hots by argmax.
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/generator.h"
#include "generators/cuda_graph.h"
#include "generators/register.h"
#include "generators/torch_util.h"
#include "generators/transformer.h"

namespace rareforge::generators {

namespace {

using torch::Tensor;

// Salts of the torch seed per phase (seed_torch): fit and sample draw independent streams.
constexpr uint64_t kSaltFit = 0x7476616546697400ULL;
constexpr uint64_t kSaltEncode = 0x74766165456e6300ULL;
constexpr uint64_t kSaltSample = 0x7476616553616d00ULL;
constexpr int64_t kSampleChunk = 8192;  // rows decoded per forward pass in sample()

struct TvaeParams {
  int64_t epochs = 300;                            ///< passes over the training rows (per fit call)
  int64_t batch = 500;                             ///< rows per step (the last step takes the rest)
  double lr = 1e-3;                                ///< Adam learning rate
  double weight_decay = 1e-5;                      ///< Adam weight decay (L2)
  double loss_factor = 2.0;                        ///< weight of the reconstruction loss
  int64_t embedding_dim = 128;                     ///< latent width
  std::vector<int64_t> compress_dims{128, 128};    ///< encoder hidden widths
  std::vector<int64_t> decompress_dims{128, 128};  ///< decoder hidden widths
  bool cuda_graph = true;  ///< on CUDA: capture the training step as a CUDA graph
};

std::vector<ParamDef> tvae_param_defs() {
  const TvaeParams d;
  auto num = [](double v) { return format_double(v); };
  return {
      int_param("epochs", std::to_string(d.epochs), 1, 1000000, "passes over the training rows"),
      int_param("batch", std::to_string(d.batch), 1, 1000000, "rows per optimisation step"),
      double_param("lr", num(d.lr), 1e-12, 1e9, "Adam learning rate"),
      double_param("weight_decay", num(d.weight_decay), 0, 10, "Adam weight decay (L2)"),
      double_param("loss_factor", num(d.loss_factor), 1e-6, 1e6,
                   "weight of the reconstruction loss against the KL term"),
      int_param("embedding_dim", std::to_string(d.embedding_dim), 1, 100000, "latent width"),
      string_param("compress_dims", layer_widths_text(d.compress_dims),
                   "encoder hidden layer widths joined by '-'"),
      string_param("decompress_dims", layer_widths_text(d.decompress_dims),
                   "decoder hidden layer widths joined by '-'"),
      bool_param("cuda_graph", "true",
                 "on a CUDA device, capture the training step once and replay it as a CUDA "
                 "graph (ignored on the CPU)"),
  };
}

TvaeParams params_from(const ParamValues& p) {
  TvaeParams t;
  t.epochs = p.get_int("epochs");
  t.batch = p.get_int("batch");
  t.lr = p.get_double("lr");
  t.weight_decay = p.get_double("weight_decay");
  t.loss_factor = p.get_double("loss_factor");
  t.embedding_dim = p.get_int("embedding_dim");
  t.compress_dims = parse_layer_widths("tvae", "compress_dims", p.get_string("compress_dims"));
  t.decompress_dims =
      parse_layer_widths("tvae", "decompress_dims", p.get_string("decompress_dims"));
  t.cuda_graph = p.get_bool("cuda_graph");
  return t;
}

// --- networks -----------------------------------------------------------------------------------

struct EncoderOut {
  Tensor mu, logvar;
};

struct EncoderImpl : torch::nn::Module {
  EncoderImpl(int64_t in, const std::vector<int64_t>& dims, int64_t emb) {
    for (size_t i = 0; i < dims.size(); ++i) {
      seq->push_back(torch::nn::Linear(in, dims[i]));
      seq->push_back(torch::nn::ReLU());
      in = dims[i];
    }
    register_module("seq", seq);
    fc_mu = register_module("fc_mu", torch::nn::Linear(in, emb));
    fc_logvar = register_module("fc_logvar", torch::nn::Linear(in, emb));
  }
  EncoderOut forward(const Tensor& x) {
    const Tensor h = seq->forward(x);
    return {fc_mu->forward(h), fc_logvar->forward(h)};
  }
  torch::nn::Sequential seq;
  torch::nn::Linear fc_mu{nullptr}, fc_logvar{nullptr};
};
TORCH_MODULE(Encoder);

struct DecoderImpl : torch::nn::Module {
  DecoderImpl(int64_t in, const std::vector<int64_t>& dims, int64_t data_dim) {
    for (size_t i = 0; i < dims.size(); ++i) {
      seq->push_back(torch::nn::Linear(in, dims[i]));
      seq->push_back(torch::nn::ReLU());
      in = dims[i];
    }
    seq->push_back(torch::nn::Linear(in, data_dim));
    register_module("seq", seq);
    sigma = register_parameter("sigma", torch::full({data_dim}, 0.1));
  }
  Tensor forward(const Tensor& z) { return seq->forward(z); }
  torch::nn::Sequential seq;
  Tensor sigma;
};
TORCH_MODULE(Decoder);

// The encoded layout as index tensors on the device, for a vectorised loss: the tanh columns,
// and the softmax spans grouped by width (one log_softmax per group, not per span).
struct LossLayout {
  Tensor tanh_cols;  // int64 [n_tanh]
  struct Group {
    int64_t width = 0, count = 0;
    Tensor cols;  // int64 [count * width], span after span
  };
  std::vector<Group> groups;
};

LossLayout loss_layout(const DataTransformer& tr, const torch::Device& device) {
  std::vector<int64_t> tanh_cols;
  std::map<int64_t, std::vector<int64_t>> by_width;
  for (const Span& s : tr.spans()) {
    if (s.kind == Span::Kind::kSoftmax) {
      auto& v = by_width[s.width];
      for (int64_t k = 0; k < s.width; ++k) v.push_back(s.start + k);
    } else {
      tanh_cols.push_back(s.start);
    }
  }
  LossLayout l;
  l.tanh_cols = torch::tensor(tanh_cols, torch::kInt64).to(device);
  for (auto& [w, cols] : by_width) {
    LossLayout::Group g;
    g.width = w;
    g.count = static_cast<int64_t>(cols.size()) / w;
    g.cols = torch::tensor(cols, torch::kInt64).to(device);
    l.groups.push_back(std::move(g));
  }
  return l;
}

class Tvae : public Generator {
 public:
  Tvae(TvaeParams p, std::string spec) : Generator(std::move(spec)), p_(std::move(p)) {}

  void fit(const Table& train, const Context& ctx, bool resume) override;
  Table sample(int64_t n, const std::string& cls, const Conditions& where,
               const Context& ctx) const override;
  void save(const std::string& path) const override;
  void load(const std::string& path, const Context& ctx) override;
  bool fitted() const override { return fitted_; }
  const Schema& schema() const override {
    RF_CHECK(fitted_, "tvae: schema() before fit or load");
    return tr_.schema();
  }

 private:
  void build(int64_t data_dim, int n_classes);
  std::vector<torch::nn::Module*> modules() { return {enc_.ptr().get(), dec_.ptr().get()}; }

  TvaeParams p_;
  DataTransformer tr_;
  Encoder enc_{nullptr};
  Decoder dec_{nullptr};
  std::unique_ptr<torch::optim::Adam> opt_;
  torch::Device device_{torch::kCPU};
  int n_classes_ = 0;
  int64_t epochs_done_ = 0;
  std::vector<int64_t> class_counts_;
  bool fitted_ = false;
};

void Tvae::build(int64_t data_dim, int n_classes) {
  n_classes_ = n_classes;
  enc_ = Encoder(data_dim + n_classes, p_.compress_dims, p_.embedding_dim);
  dec_ = Decoder(p_.embedding_dim + n_classes, p_.decompress_dims, data_dim);
  enc_->to(device_);
  dec_->to(device_);
  std::vector<Tensor> params = enc_->parameters();
  for (const auto& t : dec_->parameters()) params.push_back(t);
  opt_ = std::make_unique<torch::optim::Adam>(
      params, torch::optim::AdamOptions(p_.lr).weight_decay(p_.weight_decay));
}

void Tvae::fit(const Table& train, const Context& ctx, bool resume) {
  RF_CHECK_INPUT(train.has_target(), "tvae: the training table has no target column");
  RF_CHECK_INPUT(train.n_rows() >= 1, "tvae: the training table has no rows");
  RF_CHECK_INPUT(train.n_classes() >= 2,
                 "tvae: the target '{}' has {} class(es); a class-conditional generator needs at "
                 "least 2",
                 train.target(), train.n_classes());
  const torch::Device device = torch_device(ctx);
  set_torch_threads(ctx);
  if (resume) {
    RF_CHECK_INPUT(fitted_ && opt_,
                   "tvae: --resume needs a model loaded from a checkpoint (--model FILE)");
    RF_CHECK_INPUT(train.schema() == tr_.schema(),
                   "tvae: --resume: the table's columns, categories or target differ from the "
                   "checkpoint's training table; resume on the same data layout");
    if (device != device_) {
      device_ = device;
      enc_->to(device_);
      dec_->to(device_);
      // Optimiser moments follow their parameters.
      for (auto& kv : opt_->state()) {
        if (auto* a = dynamic_cast<torch::optim::AdamParamState*>(kv.second.get())) {
          a->exp_avg(a->exp_avg().to(device_));
          a->exp_avg_sq(a->exp_avg_sq().to(device_));
          if (a->max_exp_avg_sq().defined()) a->max_exp_avg_sq(a->max_exp_avg_sq().to(device_));
        }
      }
    }
  } else {
    device_ = device;
    fitted_ = false;
    epochs_done_ = 0;
    tr_.fit(train, TransformerOptions{}, ctx);
    seed_torch(ctx, kSaltFit);  // parameter initialisation
    build(tr_.output_dim(), tr_.n_classes());
  }
  class_counts_ = train.class_counts();

  // Encode once; the encoded rows, class one-hots and span targets stay on the device.
  Rng enc_rng = Rng::derive(ctx.rng(streams::kGenerator).next(), kSaltEncode + epochs_done_);
  const Tensor data = to_device_float(tr_.transform(train, enc_rng), device_);
  const int64_t n = data.size(0);
  const Tensor cond =
      torch::one_hot(to_device_long(train.labels(), device_), n_classes_).to(torch::kFloat32);
  const LossLayout layout = loss_layout(tr_, device_);
  std::vector<Tensor> targets;  // per width group: [n, count] argmax of each span
  for (const auto& g : layout.groups)
    targets.push_back(data.index_select(1, g.cols).view({n, g.count, g.width}).argmax(-1));

  seed_torch(ctx, kSaltFit + 1 + static_cast<uint64_t>(epochs_done_));
  enc_->train();
  dec_->train();
  const std::vector<torch::nn::Module*> mods = modules();
  const std::vector<torch::optim::Optimizer*> opts = {opt_.get()};
  StateSnapshot snapshot;
  snapshot.take(mods, opts);
  const bool had_state = resume;
  const int64_t first = epochs_done_;
  EpochProgress progress("tvae fit", first + p_.epochs, first, ctx);
  const auto long_opts = torch::TensorOptions().dtype(torch::kInt64).device(device_);
  // On a GPU the optimiser keeps its step factors on the device and each batch size's step is
  // captured once as a CUDA graph (cuda_graph.h); the batch's row indices are its input.
  const bool cuda = device_.is_cuda();
  std::unique_ptr<DeviceAdam> adam;
  if (cuda) adam = std::make_unique<DeviceAdam>(*opt_);
  BatchStepGraphs graphs(device_, cuda && p_.cuda_graph);
  const Tensor rec_sum = torch::zeros({}, data.options()),
               kl_sum = torch::zeros({}, data.options());
  auto train_step = [&](const Tensor& idx) {
    const int64_t b = idx.size(0);
    const Tensor x = data.index_select(0, idx);
    const Tensor c = cond.index_select(0, idx);
    const EncoderOut q = enc_->forward(torch::cat({x, c}, 1));
    const Tensor stdev = torch::exp(0.5 * q.logvar);
    const Tensor z = torch::randn_like(stdev) * stdev + q.mu;
    const Tensor y = dec_->forward(torch::cat({z, c}, 1));
    Tensor rec = torch::zeros({}, data.options());
    if (layout.tanh_cols.numel() > 0) {
      const Tensor sig = dec_->sigma.index_select(0, layout.tanh_cols);
      const Tensor eq =
          x.index_select(1, layout.tanh_cols) - torch::tanh(y.index_select(1, layout.tanh_cols));
      rec = rec + (eq * eq / 2 / (sig * sig)).sum() + torch::log(sig).sum() * b;
    }
    for (size_t gi = 0; gi < layout.groups.size(); ++gi) {
      const auto& g = layout.groups[gi];
      const Tensor logp =
          torch::log_softmax(y.index_select(1, g.cols).view({b, g.count, g.width}), -1);
      const Tensor t = targets[gi].index_select(0, idx).unsqueeze(-1);
      rec = rec - logp.gather(-1, t).sum();
    }
    rec = rec * p_.loss_factor / b;
    const Tensor kl =
        -0.5 * torch::sum(1 + q.logvar - q.mu * q.mu - q.logvar.exp()) / static_cast<double>(b);
    const Tensor loss = rec + kl;
    drop_grads(*opt_);
    loss.backward();
    if (adam)
      adam->apply();
    else
      optimizer_step(*opt_);
    {
      torch::NoGradGuard no_grad;
      dec_->sigma.clamp_(0.01, 1.0);
    }
    rec_sum.add_(rec.detach());
    kl_sum.add_(kl.detach());
  };
  for (int64_t e = 0; e < p_.epochs; ++e) {
    const Tensor perm = torch::randperm(n, long_opts);
    rec_sum.zero_();
    kl_sum.zero_();
    int64_t steps = 0;
    for (int64_t s = 0; s < n; s += p_.batch, ++steps) {
      if (adam) adam->prepare();
      graphs.run(perm.slice(0, s, std::min(n, s + p_.batch)), train_step);
    }
    if (adam) adam->sync_state();
    // The one host round trip of the epoch: the losses for the check and the progress line.
    const Tensor both =
        torch::stack({rec_sum, kl_sum}).to(torch::kCPU) / static_cast<double>(steps);
    const std::vector<std::pair<std::string, double>> losses = {
        {"reconstruction", both[0].item<double>()}, {"kl", both[1].item<double>()}};
    const int64_t epoch = first + e + 1;
    try {
      check_finite_losses(
          "tvae", epoch, losses,
          epoch > 1 ? fmt::format("The model keeps its state after epoch {}; try a smaller lr "
                                  "or check the data for extreme values",
                                  epoch - 1)
                    : "Try a smaller lr or check the data for extreme values");
    } catch (const Error&) {
      snapshot.restore(mods, opts);
      epochs_done_ = epoch - 1;
      fitted_ = had_state || epochs_done_ > 0;
      enc_->eval();
      dec_->eval();
      throw;
    }
    snapshot.take(mods, opts);
    epochs_done_ = epoch;
    fitted_ = true;
    progress.epoch_done(epoch, losses);
  }
  progress.finish();
  drop_grads(*opt_);  // (on a GPU they live in the graphs' memory pools)
  enc_->eval();
  dec_->eval();
  fitted_ = true;
}

Table Tvae::sample(int64_t n, const std::string& cls, const Conditions& where,
                   const Context& ctx) const {
  RF_CHECK_INPUT(fitted_, "tvae: sample() needs a fitted or loaded model");
  RF_CHECK_INPUT(where.empty(),
                 "tvae: cannot condition on columns (--where {}={}); tvae conditions on the class "
                 "only: use --method ctgan, which conditions on categorical column values",
                 where.front().first, where.front().second);
  RF_CHECK_INPUT(n >= 0, "tvae: cannot sample {} rows", n);
  const int32_t code = class_code(tr_.schema(), cls, "tvae");
  set_torch_threads(ctx);
  const torch::Device device = torch_device(ctx);
  RF_CHECK_INPUT(device == device_,
                 "tvae: the model is on {} but the context asks for {}; load it with that device",
                 device_name(device_), device_name(device));
  torch::NoGradGuard no_grad;
  seed_torch(ctx, kSaltSample);
  const auto fopt = torch::TensorOptions().dtype(torch::kFloat32).device(device_);
  const LossLayout layout = loss_layout(tr_, device_);
  const Tensor sig =
      layout.tanh_cols.numel() > 0 ? dec_->sigma.index_select(0, layout.tanh_cols) : Tensor();
  std::vector<Tensor> parts;
  for (int64_t s = 0; s < n; s += kSampleChunk) {
    const int64_t b = std::min(kSampleChunk, n - s);
    const Tensor z = torch::randn({b, p_.embedding_dim}, fopt);
    const Tensor c =
        torch::zeros({b, n_classes_}, fopt)
            .index_fill_(1, torch::tensor({int64_t{code}}, torch::kInt64).to(device_), 1.0);
    Tensor y = dec_.ptr()->forward(torch::cat({z, c}, 1));
    if (layout.tanh_cols.numel() > 0) {
      const Tensor off = torch::tanh(y.index_select(1, layout.tanh_cols)) +
                         sig * torch::randn({b, layout.tanh_cols.numel()}, fopt);
      y = y.index_copy(1, layout.tanh_cols, off.clamp(-1.0, 1.0));
    }
    parts.push_back(y);
  }
  const MatrixRM m = n > 0 ? to_matrix(torch::cat(parts, 0)) : MatrixRM(0, tr_.output_dim());
  Table t = tr_.inverse(m, std::vector<int32_t>(static_cast<size_t>(n), code));
  set_synthetic_provenance(t, spec());
  return t;
}

// meta: {"params": {...}, "n_classes", "data_dim", "epochs_done", "class_counts",
//        "transformer": DataTransformer::to_json()}
void Tvae::save(const std::string& path) const {
  RF_CHECK(fitted_, "tvae: save() before fit");
  nlohmann::json meta = {{"params",
                          {{"epochs", p_.epochs},
                           {"batch", p_.batch},
                           {"lr", p_.lr},
                           {"weight_decay", p_.weight_decay},
                           {"loss_factor", p_.loss_factor},
                           {"embedding_dim", p_.embedding_dim},
                           {"compress_dims", p_.compress_dims},
                           {"decompress_dims", p_.decompress_dims}}},
                         {"n_classes", n_classes_},
                         {"data_dim", tr_.output_dim()},
                         {"epochs_done", epochs_done_},
                         {"class_counts", class_counts_},
                         {"transformer", tr_.to_json()}};
  const CheckpointHeader h =
      make_checkpoint_header("tvae", spec(), device_name(device_), tr_.schema(), class_counts_);
  write_checkpoint(path, h, {{"encoder", enc_.ptr().get()}, {"decoder", dec_.ptr().get()}},
                   {{"adam", opt_.get()}}, meta);
}

void Tvae::load(const std::string& path, const Context& ctx) {
  const torch::Device device = torch_device(ctx);
  CheckpointReader r(path, "tvae", device);
  const nlohmann::json& meta = r.meta();
  DataTransformer tr;
  TvaeParams arch = p_;
  int n_classes = 0;
  int64_t epochs_done = 0;
  std::vector<int64_t> counts;
  try {
    tr = DataTransformer::from_json(meta.at("transformer"));
    const auto& mp = meta.at("params");
    arch.embedding_dim = mp.at("embedding_dim").get<int64_t>();
    arch.compress_dims = mp.at("compress_dims").get<std::vector<int64_t>>();
    arch.decompress_dims = mp.at("decompress_dims").get<std::vector<int64_t>>();
    n_classes = meta.at("n_classes").get<int>();
    epochs_done = meta.at("epochs_done").get<int64_t>();
    counts = meta.at("class_counts").get<std::vector<int64_t>>();
    RF_CHECK_INPUT(meta.at("data_dim").get<int64_t>() == tr.output_dim(),
                   "model file '{}': the encoded width does not match its transformer", path);
  } catch (const nlohmann::json::exception& e) {
    RF_THROW_INPUT("model file '{}' has malformed tvae metadata ({})", path, e.what());
  }
  RF_CHECK_INPUT(n_classes == tr.n_classes() && r.header().schema == tr.schema(),
                 "model file '{}': the header's schema differs from the model's", path);
  // Architecture from the file; training settings (epochs, batch, loss_factor) from this spec.
  p_.embedding_dim = arch.embedding_dim;
  p_.compress_dims = arch.compress_dims;
  p_.decompress_dims = arch.decompress_dims;
  tr_ = std::move(tr);
  device_ = device;
  build(tr_.output_dim(), n_classes);
  r.load_module("encoder", *enc_);
  r.load_module("decoder", *dec_);
  // The optimiser over the loaded parameters (same tensors), then its saved state.
  std::vector<Tensor> params = enc_->parameters();
  for (const auto& t : dec_->parameters()) params.push_back(t);
  opt_ = std::make_unique<torch::optim::Adam>(
      params, torch::optim::AdamOptions(p_.lr).weight_decay(p_.weight_decay));
  r.load_optimizer("adam", *opt_);
  enc_->eval();
  dec_->eval();
  epochs_done_ = epochs_done;
  class_counts_ = std::move(counts);
  fitted_ = true;
}

}  // namespace

void register_tvae() {
  GeneratorInfo info;
  info.name = "tvae";
  info.description =
      "class-conditional variational autoencoder on mode-specific normalised columns (TVAE); "
      "conditions on the class only";
  info.params = tvae_param_defs();
  info.create = [](const ParamValues& p,
                   const std::string& canonical) -> std::unique_ptr<Generator> {
    return std::make_unique<Tvae>(params_from(p), canonical);
  };
  register_generator(std::move(info));
}

}  // namespace rareforge::generators
