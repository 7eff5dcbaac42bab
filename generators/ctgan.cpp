// `ctgan`: conditional WGAN-GP with PacGAN on mode-specific normalised columns (Xu et al. 2019,
// "Modeling Tabular Data using Conditional GAN"), in LibTorch. Contract: core/generator.h;
// user documentation: docs/GENERATORS.md ("ctgan").
//
// Where this differs from the reference (Python CTGAN 0.7, used by SDV), and why:
//   * The condition vector is [class one-hot (K) | one-hot over every value of the non-target
//     categorical columns (Dc)]. The class part is always set, so sample(n, C) gives exactly
//     class C without rejection (the reference writes conditions into the wrong block and SDV
//     rejects samples instead).
//   * Training-by-sampling runs on the device: the encoded table, each row's class and
//     categorical codes, and one sorted row-index tensor per (column, value) with offsets stay
//     on the device for the whole run, so a batch is drawn with a handful of tensor ops (the
//     reference loops over rows on the host for every batch).
//   * The discriminator step computes the fake rows without autograd (the reference builds a
//     graph through the generator there and discards it), and each backward computes only the
//     gradients of the network it updates (the reference also computes, and discards, the
//     discriminator's weight gradients in the generator step and the gradient at the penalty's
//     interpolated rows in the discriminator step); the updates are the same, bit for bit.
//   * Training-by-sampling also picks the class column (sample_target=true; the class by
//     log-frequency), so a rare class is trained about as often as a rare category value.
//   * sample(n, C, {col=value}) sets the decoded column to the value after generating with it in
//     the condition vector (the reference's intent); stderr says how often the generator
//     produced it by itself.
//   * sample() runs the generator in eval mode (BatchNorm running statistics), so a row does not
//     depend on the other rows of its batch and sampling is reproducible for a seed.
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>
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

// --- parameters ------------------------------------------------------------------------------

struct CtganParams {
  int64_t epochs = 300;         ///< passes over the training rows (steps = max(n / batch, 1))
  int64_t batch = 500;          ///< rows per step; a multiple of pac
  int64_t pac = 10;             ///< PacGAN: rows the discriminator judges together
  int64_t embedding_dim = 128;  ///< noise dimension
  std::vector<int64_t> generator_dim{256, 256};      ///< residual block widths
  std::vector<int64_t> discriminator_dim{256, 256};  ///< hidden layer widths
  double generator_lr = 2e-4;
  double discriminator_lr = 2e-4;
  double generator_decay = 1e-6;      ///< Adam weight decay (L2), generator
  double discriminator_decay = 1e-6;  ///< Adam weight decay (L2), discriminator
  double beta1 = 0.5;
  double beta2 = 0.9;
  int64_t discriminator_steps = 1;  ///< discriminator updates per generator update
  double gp_lambda = 10.0;          ///< gradient penalty weight
  double tau = 0.2;                 ///< Gumbel-softmax temperature
  double dropout = 0.5;             ///< discriminator dropout
  bool log_frequency = true;        ///< training-by-sampling draws values by log(1 + count)
  bool sample_target = true;        ///< training-by-sampling also picks the class column
  int64_t max_modes = 10;           ///< transformer: mixture components per numeric column
  double weight_threshold = 0.005;  ///< transformer: prune components under this weight
  bool cuda_graph = true;           ///< on CUDA: capture the training step as a CUDA graph
};

std::vector<ParamDef> ctgan_param_defs() {
  const CtganParams d;
  auto num = [](double v) { return format_double(v); };
  std::vector<ParamDef> v;
  v.push_back(
      int_param("epochs", std::to_string(d.epochs), 1, 1000000, "passes over the training rows"));
  v.push_back(int_param("batch", std::to_string(d.batch), 1, 1000000,
                        "rows per training step (a multiple of pac)"));
  v.push_back(int_param("pac", std::to_string(d.pac), 1, 1000,
                        "PacGAN: rows the discriminator judges together"));
  v.push_back(int_param("embedding_dim", std::to_string(d.embedding_dim), 1, 100000,
                        "dimension of the generator's noise input"));
  v.push_back(string_param("generator_dim", layer_widths_text(d.generator_dim),
                           "generator residual block widths joined by '-'"));
  v.push_back(string_param("discriminator_dim", layer_widths_text(d.discriminator_dim),
                           "discriminator hidden layer widths joined by '-'"));
  v.push_back(double_param("generator_lr", num(d.generator_lr), 1e-12, 1e12,
                           "Adam learning rate, generator"));
  v.push_back(double_param("discriminator_lr", num(d.discriminator_lr), 1e-12, 1e12,
                           "Adam learning rate, discriminator"));
  v.push_back(double_param("generator_decay", num(d.generator_decay), 0, 10,
                           "Adam weight decay, generator"));
  v.push_back(double_param("discriminator_decay", num(d.discriminator_decay), 0, 10,
                           "Adam weight decay, discriminator"));
  v.push_back(double_param("beta1", num(d.beta1), 0, 0.999999, "Adam beta1 (both networks)"));
  v.push_back(double_param("beta2", num(d.beta2), 0, 0.999999, "Adam beta2 (both networks)"));
  v.push_back(int_param("discriminator_steps", std::to_string(d.discriminator_steps), 1, 100,
                        "discriminator updates per generator update"));
  v.push_back(double_param("gp_lambda", num(d.gp_lambda), 0, 1e6, "gradient penalty weight"));
  v.push_back(double_param("tau", num(d.tau), 1e-6, 100, "Gumbel-softmax temperature"));
  v.push_back(double_param("dropout", num(d.dropout), 0, 0.99, "discriminator dropout"));
  v.push_back(bool_param("log_frequency", "true",
                         "training-by-sampling draws category values by log(1 + count)"));
  v.push_back(
      bool_param("sample_target", "true",
                 "training-by-sampling also picks the class (rare classes trained as "
                 "often as rare values); false = non-target columns only, as the reference"));
  v.push_back(int_param("max_modes", std::to_string(d.max_modes), 1, 100,
                        "mixture components per numeric column"));
  v.push_back(double_param("weight_threshold", num(d.weight_threshold), 0, 0.5,
                           "mixture components under this weight are pruned"));
  v.push_back(bool_param("cuda_graph", "true",
                         "on a CUDA device, capture the training step once and replay it as a "
                         "CUDA graph (ignored on the CPU)"));
  return v;
}

CtganParams params_from(const ParamValues& p) {
  CtganParams c;
  c.epochs = p.get_int("epochs");
  c.batch = p.get_int("batch");
  c.pac = p.get_int("pac");
  c.embedding_dim = p.get_int("embedding_dim");
  c.generator_dim = parse_layer_widths("ctgan", "generator_dim", p.get_string("generator_dim"));
  c.discriminator_dim =
      parse_layer_widths("ctgan", "discriminator_dim", p.get_string("discriminator_dim"));
  c.generator_lr = p.get_double("generator_lr");
  c.discriminator_lr = p.get_double("discriminator_lr");
  c.generator_decay = p.get_double("generator_decay");
  c.discriminator_decay = p.get_double("discriminator_decay");
  c.beta1 = p.get_double("beta1");
  c.beta2 = p.get_double("beta2");
  c.discriminator_steps = p.get_int("discriminator_steps");
  c.gp_lambda = p.get_double("gp_lambda");
  c.tau = p.get_double("tau");
  c.dropout = p.get_double("dropout");
  c.log_frequency = p.get_bool("log_frequency");
  c.sample_target = p.get_bool("sample_target");
  c.max_modes = p.get_int("max_modes");
  c.weight_threshold = p.get_double("weight_threshold");
  c.cuda_graph = p.get_bool("cuda_graph");
  RF_CHECK_INPUT(c.batch % c.pac == 0,
                 "ctgan: batch={} must be a multiple of pac={} (e.g. batch={})", c.batch, c.pac,
                 std::max<int64_t>(c.pac, c.batch / c.pac * c.pac));
  return c;
}

// --- networks --------------------------------------------------------------------------------

// Linear -> BatchNorm -> ReLU, output concatenated with the input (width in + out).
struct ResidualImpl : torch::nn::Module {
  ResidualImpl(int64_t in, int64_t out)
      : fc(register_module("fc", torch::nn::Linear(in, out))),
        bn(register_module("bn", torch::nn::BatchNorm1d(out))) {}
  Tensor forward(const Tensor& x) {
    return torch::cat({torch::relu(bn->forward(fc->forward(x))), x}, 1);
  }
  torch::nn::Linear fc;
  torch::nn::BatchNorm1d bn;
};
TORCH_MODULE(Residual);

// [noise | condition] -> residual blocks -> Linear to the encoded width (raw, before activation).
struct GeneratorNetImpl : torch::nn::Module {
  GeneratorNetImpl(int64_t in, const std::vector<int64_t>& dims, int64_t out) {
    int64_t d = in;
    for (size_t i = 0; i < dims.size(); ++i) {
      blocks.push_back(register_module("res" + std::to_string(i), Residual(d, dims[i])));
      d += dims[i];
    }
    head = register_module("out", torch::nn::Linear(d, out));
  }
  Tensor forward(Tensor x) {
    for (auto& b : blocks) x = b->forward(x);
    return head->forward(x);
  }
  std::vector<Residual> blocks;
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(GeneratorNet);

// Judges pac rows at once: input B x in is viewed as (B / pac) x (in * pac).
struct DiscriminatorNetImpl : torch::nn::Module {
  DiscriminatorNetImpl(int64_t in, const std::vector<int64_t>& dims, int64_t pac, double dropout)
      : pacdim(in * pac), p_drop(dropout) {
    int64_t d = pacdim;
    for (size_t i = 0; i < dims.size(); ++i) {
      layers.push_back(register_module("fc" + std::to_string(i), torch::nn::Linear(d, dims[i])));
      d = dims[i];
    }
    head = register_module("out", torch::nn::Linear(d, 1));
  }
  Tensor forward(const Tensor& x) {
    Tensor h = x.reshape({-1, pacdim});
    for (auto& l : layers) {
      h = torch::leaky_relu(l->forward(h), 0.2);
      if (p_drop > 0) h = torch::dropout(h, p_drop, is_training());
    }
    return head->forward(h);
  }
  int64_t pacdim;
  double p_drop;
  std::vector<torch::nn::Linear> layers;
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(DiscriminatorNet);

// WGAN-GP penalty on random interpolates of real and fake rows; one alpha per pac group.
Tensor gradient_penalty(DiscriminatorNet& disc, const Tensor& real, const Tensor& fake, int64_t pac,
                        double lambda) {
  const int64_t b = real.size(0), dim = real.size(1);
  const Tensor alpha =
      torch::rand({b / pac, 1, 1}, real.options()).expand({b / pac, pac, dim}).reshape({b, dim});
  const Tensor interp = (alpha * real + (1 - alpha) * fake).detach().requires_grad_(true);
  const Tensor out = disc->forward(interp);
  const Tensor grad = torch::autograd::grad({out}, {interp}, {torch::ones_like(out)},
                                            /*retain_graph=*/true, /*create_graph=*/true)[0];
  return (grad.reshape({-1, pac * dim}).norm(2, 1) - 1).pow(2).mean() * lambda;
}

// The generator's output activations, run over the whole batch in a dozen operators however
// many spans the table has: tanh on kTanh columns, Gumbel-softmax (as
// torch.nn.functional.gumbel_softmax, hard=false) within each kSoftmax span, identity on
// kGaussian. The softmax spans are gathered into a padded [B, S, W] block (the pad slots read a
// -inf column, which softmax turns into 0), normalised along W, and gathered back. On a GPU a
// small network's step is bound by operator launches, so this is what sets ctgan's speed there
// (a per-span loop costs ~7 operators per span, forward and backward, twice a step).
struct ActivationPlan {
  Tensor tanh_mask;    ///< [dim] bool: kTanh columns
  Tensor soft_mask;    ///< [dim] bool: kSoftmax columns
  Tensor soft_gather;  ///< [S * W] int64: the column each padded slot reads (dim: the -inf pad)
  Tensor soft_slot;    ///< [dim] int64: each softmax column's slot in the padded block (else 0)
  int64_t n_soft = 0, width = 1;

  static ActivationPlan build(const std::vector<Span>& spans, int64_t dim,
                              const torch::Device& dev) {
    ActivationPlan a;
    std::vector<int64_t> tanh_m(static_cast<size_t>(dim), 0), soft_m(tanh_m), slot(tanh_m);
    for (const Span& s : spans)
      if (s.kind == Span::Kind::kSoftmax) {
        ++a.n_soft;
        a.width = std::max(a.width, s.width);
      }
    std::vector<int64_t> gather(static_cast<size_t>(a.n_soft * a.width), dim);
    int64_t k = 0;
    for (const Span& s : spans) {
      for (int64_t c = s.start; c < s.start + s.width; ++c) {
        if (s.kind == Span::Kind::kTanh) tanh_m[static_cast<size_t>(c)] = 1;
        if (s.kind != Span::Kind::kSoftmax) continue;
        const int64_t pos = k * a.width + (c - s.start);
        soft_m[static_cast<size_t>(c)] = 1;
        slot[static_cast<size_t>(c)] = pos;
        gather[static_cast<size_t>(pos)] = c;
      }
      if (s.kind == Span::Kind::kSoftmax) ++k;
    }
    const auto i64 = torch::TensorOptions().dtype(torch::kInt64);
    a.tanh_mask = torch::tensor(tanh_m, i64).to(dev).to(torch::kBool);
    a.soft_mask = torch::tensor(soft_m, i64).to(dev).to(torch::kBool);
    a.soft_gather = torch::tensor(gather, i64).to(dev);
    a.soft_slot = torch::tensor(slot, i64).to(dev);
    return a;
  }
};

Tensor activate(const Tensor& raw, const ActivationPlan& plan, double tau) {
  const Tensor tanh_or_id = torch::where(plan.tanh_mask, torch::tanh(raw), raw);
  if (plan.n_soft == 0) return tanh_or_id;
  const int64_t b = raw.size(0);
  const Tensor g = -torch::empty_like(raw).exponential_().log();
  const Tensor z =
      torch::cat({(raw + g) / tau,
                  torch::full({b, 1}, -std::numeric_limits<float>::infinity(), raw.options())},
                 1);
  const Tensor soft =
      torch::softmax(z.index_select(1, plan.soft_gather).view({b, plan.n_soft, plan.width}), 2)
          .view({b, plan.n_soft * plan.width})
          .index_select(1, plan.soft_slot);
  return torch::where(plan.soft_mask, soft, tanh_or_id);
}

// --- conditioning ----------------------------------------------------------------------------

// Layout of the column part of the condition vector: one block per non-target categorical
// column, in table order. Block j covers the kSoftmax span of column `column[j]` (width
// `width[j]`, categories plus "missing" when the column had missing values) and starts at
// `offset[j]` within the column part.
struct CondLayout {
  std::vector<int64_t> column;      ///< table column index
  std::vector<int64_t> span_start;  ///< start of its span in the encoded matrix
  std::vector<int64_t> width;
  std::vector<int64_t> offset;
  int64_t dim = 0;  ///< Dc: total width of the column part
  int64_t n_classes = 0;

  static CondLayout build(const DataTransformer& tr) {
    CondLayout c;
    c.n_classes = tr.n_classes();
    const Schema& s = tr.schema();
    for (int64_t j = 0; j < static_cast<int64_t>(s.columns.size()); ++j) {
      if (j == tr.target_column()) continue;
      const Span* sp = tr.category_span(j);
      if (!sp) continue;
      c.column.push_back(j);
      c.span_start.push_back(sp->start);
      c.width.push_back(sp->width);
      c.offset.push_back(c.dim);
      c.dim += sp->width;
    }
    return c;
  }
  int64_t n_cols() const { return static_cast<int64_t>(column.size()); }
  int64_t max_width() const {
    int64_t m = 1;
    for (int64_t w : width) m = std::max(m, w);
    return m;
  }
};

// One drawn batch of conditions: rows[i] is a training row that satisfies condition i.
struct CondBatch {
  Tensor rows;  ///< B int64: training row drawn for the condition
  Tensor cls;   ///< B int64: class part
  Tensor col;   ///< B int64: conditioned block j (undefined when Dc == 0)
  Tensor val;   ///< B int64: value within block j
  Tensor cond;  ///< B x (K + Dc) float
};

Tensor make_cond(const CondLayout& lay, const Tensor& cls, const Tensor& col, const Tensor& val,
                 const Tensor& offsets) {
  const int64_t b = cls.size(0);
  Tensor cond = torch::zeros({b, lay.n_classes + lay.dim},
                             torch::TensorOptions().dtype(torch::kFloat32).device(cls.device()));
  cond.scatter_(1, cls.unsqueeze(1), 1.0);
  if (lay.dim > 0)
    cond.scatter_(1, (lay.n_classes + offsets.index_select(0, col) + val).unsqueeze(1), 1.0);
  return cond;
}

// Training-by-sampling, entirely on the device. Sampling "slots" are the class column (when
// sample_target) and the conditioning columns; a slot is chosen uniformly, one of its values by
// (log-)frequency, then a row uniformly among the rows having that value:
//   value ids:   g = slot_base[s] + v (all slots' values numbered 0..G-1)
//   rows:        sorted_rows[value_start[g] .. value_start[g] + value_count[g]) have value g
// The conditioned block is the slot's column, or for the class slot a uniformly chosen
// conditioning column; its value is that of the drawn row, so the row satisfies the condition.
class CondSampler {
 public:
  CondSampler(const CondLayout& lay, const Tensor& x, const Tensor& labels, bool sample_target,
              bool log_frequency)
      : lay_(lay), n_(x.size(0)) {
    const auto dev = x.device();
    const auto i64 = torch::TensorOptions().dtype(torch::kInt64).device(dev);
    offsets_ = torch::tensor(lay.offset, torch::kInt64).to(dev);
    labels_ = labels;
    std::vector<Tensor> code_cols;
    for (int64_t j = 0; j < lay.n_cols(); ++j)
      code_cols.push_back(x.narrow(1, lay.span_start[j], lay.width[j]).argmax(1));
    if (!code_cols.empty()) codes_ = torch::stack(code_cols, 1);  // n x C

    // Slots: (key tensor per row, number of values).
    std::vector<Tensor> keys;
    std::vector<int64_t> widths;
    has_target_slot_ = sample_target || lay.n_cols() == 0;
    if (has_target_slot_) {
      keys.push_back(labels);
      widths.push_back(lay.n_classes);
    }
    for (int64_t j = 0; j < lay.n_cols(); ++j) {
      keys.push_back(codes_.select(1, j));
      widths.push_back(lay.width[j]);
    }
    n_slots_ = static_cast<int64_t>(widths.size());
    std::vector<int64_t> base(widths.size());
    int64_t g = 0;
    for (size_t s = 0; s < widths.size(); ++s) base[s] = g, g += widths[s];
    slot_base_ = torch::tensor(base, torch::kInt64).to(dev);
    std::vector<Tensor> gkeys;
    for (size_t s = 0; s < keys.size(); ++s) gkeys.push_back(keys[s] + base[s]);
    const Tensor all = torch::cat(gkeys);  // S*n value ids, slot-major
    // Sort (value id, row) pairs: key * n + row is unique, so any sort gives the same order.
    const Tensor rows = torch::arange(n_, i64).repeat({n_slots_});
    const Tensor order = std::get<1>(torch::sort(all * n_ + rows));
    sorted_rows_ = rows.index_select(0, order);
    value_count_ = torch::bincount(all, {}, g);
    value_start_ = value_count_.cumsum(0) - value_count_;

    // Value probabilities per slot (host: G numbers), cumulated and padded to max width.
    const Tensor counts = value_count_.to(torch::kCPU);
    const int64_t* cnt = counts.data_ptr<int64_t>();
    int64_t maxw = 1;
    for (int64_t w : widths) maxw = std::max(maxw, w);
    std::vector<float> cum(static_cast<size_t>(n_slots_ * maxw), 2.0f);
    for (int64_t s = 0; s < n_slots_; ++s) {
      std::vector<double> p(static_cast<size_t>(widths[s]));
      double tot = 0;
      int64_t last = 0;
      for (int64_t v = 0; v < widths[s]; ++v) {
        const double c = static_cast<double>(cnt[base[s] + v]);
        p[v] = log_frequency ? std::log1p(c) : c;
        tot += p[v];
        if (c > 0) last = v;
      }
      double acc = 0;
      for (int64_t v = 0; v < widths[s]; ++v) {
        acc += p[v] / tot;
        // From the last value with rows on, the cumulative is exactly 1: a draw u < 1 never
        // lands on a value without rows through rounding.
        cum[s * maxw + v] = v >= last ? 1.0f : static_cast<float>(acc);
      }
    }
    slot_cum_ = torch::from_blob(cum.data(), {n_slots_, maxw}, torch::kFloat32).clone().to(dev);
  }

  CondBatch draw(int64_t b) const {
    const auto dev = slot_base_.device();
    const auto i64 = torch::TensorOptions().dtype(torch::kInt64).device(dev);
    const auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(dev);
    CondBatch out;
    const Tensor s = torch::randint(n_slots_, {b}, i64);
    const Tensor u = torch::rand({b, 1}, f32).clamp_min(1e-7);
    const Tensor v = (slot_cum_.index_select(0, s) < u).sum(1);
    const Tensor g = slot_base_.index_select(0, s) + v;
    const Tensor cnt = value_count_.index_select(0, g);
    const Tensor k = torch::minimum((torch::rand({b}, f32) * cnt).to(torch::kInt64), cnt - 1);
    out.rows = sorted_rows_.index_select(0, value_start_.index_select(0, g) + k);
    out.cls = labels_.index_select(0, out.rows);
    if (lay_.n_cols() > 0) {
      if (has_target_slot_) {
        const Tensor rand_col = torch::randint(lay_.n_cols(), {b}, i64);
        out.col = torch::where(s == 0, rand_col, s - 1);
      } else {
        out.col = s;
      }
      out.val = codes_.index_select(0, out.rows).gather(1, out.col.unsqueeze(1)).squeeze(1);
    }
    out.cond = make_cond(lay_, out.cls, out.col, out.val, offsets_);
    return out;
  }

  const Tensor& offsets() const { return offsets_; }
  const Tensor& codes() const { return codes_; }

 private:
  CondLayout lay_;
  int64_t n_;
  bool has_target_slot_ = true;
  int64_t n_slots_ = 0;
  Tensor offsets_, labels_, codes_;
  Tensor slot_base_, slot_cum_, sorted_rows_, value_start_, value_count_;
};

// Cross-entropy of the generator's raw logits on the conditioned block, averaged over the batch
// (the reference's _cond_loss: each row contributes the block it is conditioned on), over the
// whole batch at once: the conditional spans are gathered into a padded [B, C, W] block (pad
// slots read a -inf column) for their log-sum-exp, and each row picks its block's and its
// value's logit.
struct CondLossPlan {
  Tensor gather;  ///< [C * W] int64: the raw column each padded slot reads (dim: the -inf pad)
  Tensor start;   ///< [C] int64: each conditional block's first column in the raw output
  int64_t n = 0, width = 1;

  static CondLossPlan build(const CondLayout& lay, int64_t dim, const torch::Device& dev) {
    CondLossPlan p;
    p.n = lay.n_cols();
    p.width = lay.max_width();
    std::vector<int64_t> gather(static_cast<size_t>(p.n * p.width), dim);
    for (int64_t j = 0; j < p.n; ++j)
      for (int64_t v = 0; v < lay.width[static_cast<size_t>(j)]; ++v)
        gather[static_cast<size_t>(j * p.width + v)] = lay.span_start[static_cast<size_t>(j)] + v;
    const auto i64 = torch::TensorOptions().dtype(torch::kInt64);
    p.gather = torch::tensor(gather, i64).to(dev);
    p.start = torch::tensor(lay.span_start, i64).to(dev);
    return p;
  }
};

Tensor cond_loss(const Tensor& raw, const CondLossPlan& plan, const CondBatch& b) {
  const int64_t n = raw.size(0);
  const Tensor padded = torch::cat(
      {raw, torch::full({n, 1}, -std::numeric_limits<float>::infinity(), raw.options())}, 1);
  const Tensor lse =
      padded.index_select(1, plan.gather).view({n, plan.n, plan.width}).logsumexp(2);  // [B, C]
  const Tensor mine = lse.gather(1, b.col.unsqueeze(1)).squeeze(1);
  const Tensor logit =
      raw.gather(1, (plan.start.index_select(0, b.col) + b.val).unsqueeze(1)).squeeze(1);
  return (mine - logit).sum() / n;
}

// --- the generator ---------------------------------------------------------------------------

class Ctgan : public Generator {
 public:
  Ctgan(const CtganParams& p, std::string spec) : Generator(std::move(spec)), p_(p) {}

  bool fitted() const override { return fitted_; }
  const Schema& schema() const override {
    RF_CHECK(fitted_, "ctgan: schema() before fit or load");
    return tr_.schema();
  }

  void fit(const Table& train, const Context& ctx, bool resume) override;
  Table sample(int64_t n, const std::string& cls, const Conditions& where,
               const Context& ctx) const override;
  void save(const std::string& path) const override;
  void load(const std::string& path, const Context& ctx) override;

 private:
  void build_nets(const torch::Device& dev);
  std::vector<torch::nn::Module*> modules() { return {gen_.get(), disc_.get()}; }
  std::vector<torch::optim::Optimizer*> optimizers() { return {opt_g_.get(), opt_d_.get()}; }
  nlohmann::json meta() const;
  void check_where(const Conditions& where, int64_t* block, int64_t* code) const;

  CtganParams p_;
  bool fitted_ = false;
  DataTransformer tr_;
  CondLayout lay_;
  std::vector<int64_t> class_counts_;
  /// K x Dc training counts of each conditioning value per class (sample() without `where`
  /// draws the column part from these, so unconditioned rows follow the class's own mix).
  std::vector<int64_t> value_counts_;
  int64_t epochs_done_ = 0;
  std::string trained_on_ = "cpu";
  torch::Device device_{torch::kCPU};
  // Modules are handles: sample() (const) runs the generator through them.
  GeneratorNet gen_{nullptr};
  DiscriminatorNet disc_{nullptr};
  std::unique_ptr<torch::optim::Adam> opt_g_, opt_d_;
};

void Ctgan::build_nets(const torch::Device& dev) {
  const int64_t data_dim = tr_.output_dim();
  const int64_t cond_dim = lay_.n_classes + lay_.dim;
  gen_ = GeneratorNet(p_.embedding_dim + cond_dim, p_.generator_dim, data_dim);
  disc_ = DiscriminatorNet(data_dim + cond_dim, p_.discriminator_dim, p_.pac, p_.dropout);
  gen_->to(dev);
  disc_->to(dev);
  opt_g_ = std::make_unique<torch::optim::Adam>(gen_->parameters(),
                                                torch::optim::AdamOptions(p_.generator_lr)
                                                    .betas({p_.beta1, p_.beta2})
                                                    .weight_decay(p_.generator_decay));
  opt_d_ = std::make_unique<torch::optim::Adam>(disc_->parameters(),
                                                torch::optim::AdamOptions(p_.discriminator_lr)
                                                    .betas({p_.beta1, p_.beta2})
                                                    .weight_decay(p_.discriminator_decay));
  device_ = dev;
}

void Ctgan::fit(const Table& train, const Context& ctx, bool resume) {
  RF_CHECK_INPUT(train.has_target(),
                 "ctgan: the training table has no target column; name it with --target");
  RF_CHECK_INPUT(train.n_rows() >= 1, "ctgan: the training table has no rows");
  RF_CHECK_INPUT(train.n_classes() >= 2, "ctgan: the target '{}' has {} class(es); need at least 2",
                 train.target(), train.n_classes());
  RF_CHECK_INPUT(train.n_cols() >= 2,
                 "ctgan: the training table has no feature columns besides the target '{}'",
                 train.target());
  const torch::Device dev = torch_device(ctx);
  set_torch_threads(ctx);
  if (resume) {
    RF_CHECK_INPUT(fitted_, "ctgan: --resume needs a model loaded from a checkpoint");
    RF_CHECK_INPUT(train.schema() == tr_.schema(),
                   "ctgan: --resume: the data's columns differ from the checkpoint's schema; "
                   "resume with the table the model was trained on");
    RF_CHECK_INPUT(device_ == dev,
                   "ctgan: --resume: the model was loaded on {} but training runs on {}; use one "
                   "--device for both",
                   device_name(device_), device_name(dev));
  } else {
    TransformerOptions topt;
    topt.numeric = TransformerOptions::Numeric::kModeSpecific;
    topt.max_modes = static_cast<int>(p_.max_modes);
    topt.weight_threshold = p_.weight_threshold;
    DataTransformer tr;
    tr.fit(train, topt, ctx);
    RF_CHECK_INPUT(tr.output_dim() > 0, "ctgan: the table has no feature columns to model");
    tr_ = std::move(tr);
    lay_ = CondLayout::build(tr_);
    epochs_done_ = 0;
    fitted_ = false;
  }
  trained_on_ = device_name(dev);
  // A resumed run draws from its own streams (salt = epochs done), so it is reproducible but
  // not identical to an uninterrupted run.
  const uint64_t seed = seed_torch(ctx, 0xC7C0 + static_cast<uint64_t>(epochs_done_));
  if (!resume) build_nets(dev);  // initial weights from the seeded generator

  // Everything the epoch loop touches lives on the device.
  Rng enc_rng = Rng::derive(seed, 1);
  const MatrixRM enc = tr_.transform(train, enc_rng);
  const int64_t n = enc.rows();
  const Tensor x = to_device_float(enc, dev);
  const Tensor labels = to_device_long(train.labels(), dev);
  const CondSampler sampler(lay_, x, labels, p_.sample_target, p_.log_frequency);
  if (!resume) {
    class_counts_ = train.class_counts();
    value_counts_.assign(static_cast<size_t>(lay_.n_classes * lay_.dim), 0);
    if (lay_.dim > 0) {
      const Tensor key =
          labels.unsqueeze(1) * lay_.dim + sampler.offsets().unsqueeze(0) + sampler.codes();
      const Tensor c = torch::bincount(key.flatten(), {}, lay_.n_classes * lay_.dim).cpu();
      std::copy(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel(), value_counts_.begin());
    }
  }

  const int64_t b = p_.batch;
  const int64_t steps = std::max<int64_t>(n / b, 1);
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(dev);
  const auto i64 = torch::TensorOptions().dtype(torch::kInt64).device(dev);
  const ActivationPlan act = ActivationPlan::build(tr_.spans(), tr_.output_dim(), dev);
  const CondLossPlan ce_plan = CondLossPlan::build(lay_, tr_.output_dim(), dev);
  StateSnapshot last_good;
  if (resume) last_good.take(modules(), optimizers());
  gen_->train();
  disc_->train();
  // On a GPU the optimisers keep their step factors on the device and the whole step (batch
  // draws, both updates, the loss sums) is captured once as a CUDA graph (cuda_graph.h).
  const bool cuda = dev.is_cuda();
  std::unique_ptr<DeviceAdam> adam_d, adam_g;
  if (cuda) {
    adam_d = std::make_unique<DeviceAdam>(*opt_d_, p_.discriminator_steps);
    adam_g = std::make_unique<DeviceAdam>(*opt_g_);
  }
  StepGraph graph(dev, cuda && p_.cuda_graph);
  const Tensor sum_g = torch::zeros({}, f32), sum_d = torch::zeros({}, f32);
  const std::vector<Tensor> gen_params = gen_->parameters(), disc_params = disc_->parameters();
  auto train_step = [&] {
    for (int64_t k = 0; k < p_.discriminator_steps; ++k) {
      const CondBatch cb = sampler.draw(b);
      Tensor fake;
      {
        torch::NoGradGuard no_grad;
        const Tensor z = torch::randn({b, p_.embedding_dim}, f32);
        fake = activate(gen_->forward(torch::cat({z, cb.cond}, 1)), act, p_.tau);
      }
      // Real rows for the shuffled conditions (the reference's c2 = c1[perm]); on a GPU the
      // permutation sorts random keys, plain kernels a CUDA graph captures (randperm was not
      // checked for capture safety).
      const Tensor perm = cuda ? torch::rand({b}, f32).argsort() : torch::randperm(b, i64);
      const Tensor real_cat = torch::cat(
          {x.index_select(0, cb.rows.index_select(0, perm)), cb.cond.index_select(0, perm)}, 1);
      const Tensor fake_cat = torch::cat({fake, cb.cond}, 1);
      const Tensor y_fake = disc_->forward(fake_cat);
      const Tensor y_real = disc_->forward(real_cat);
      const Tensor pen = gradient_penalty(disc_, real_cat, fake_cat, p_.pac, p_.gp_lambda);
      const Tensor loss_d = -(y_real.mean() - y_fake.mean());
      drop_grads(*opt_d_);
      // Gradients for the discriminator only (not for the interpolated rows the penalty
      // differentiates at, which backward() would also accumulate).
      torch::autograd::backward({loss_d + pen}, {}, c10::nullopt, false, disc_params);
      if (adam_d)
        adam_d->apply(k);
      else
        optimizer_step(*opt_d_);
      if (k + 1 == p_.discriminator_steps) sum_d.add_(loss_d.detach());
    }
    const CondBatch cb = sampler.draw(b);
    const Tensor z = torch::randn({b, p_.embedding_dim}, f32);
    const Tensor raw = gen_->forward(torch::cat({z, cb.cond}, 1));
    const Tensor y_fake = disc_->forward(torch::cat({activate(raw, act, p_.tau), cb.cond}, 1));
    const Tensor ce = lay_.dim > 0 ? cond_loss(raw, ce_plan, cb) : torch::zeros({}, f32);
    const Tensor loss_g = -y_fake.mean() + ce;
    drop_grads(*opt_g_);
    // Gradients for the generator only: the discriminator's weight gradients, which the
    // reference computes here and discards, are pruned from the backward pass.
    torch::autograd::backward({loss_g}, {}, c10::nullopt, false, gen_params);
    if (adam_g)
      adam_g->apply(0);
    else
      optimizer_step(*opt_g_);
    sum_g.add_(loss_g.detach());
  };
  // `epochs` epochs per call: a resumed fit continues the count from the checkpoint's.
  const int64_t first = epochs_done_, last = epochs_done_ + p_.epochs;
  EpochProgress progress("ctgan fit", last, first, ctx);
  for (int64_t epoch = first; epoch < last; ++epoch) {
    sum_g.zero_();
    sum_d.zero_();
    for (int64_t step = 0; step < steps; ++step) {
      if (cuda) {
        adam_d->prepare();
        adam_g->prepare();
      }
      graph.run(train_step);
    }
    if (cuda) {
      adam_d->sync_state();
      adam_g->sync_state();
    }
    // The one host synchronisation of the epoch: losses for the progress line and the NaN check.
    const Tensor l = (torch::stack({sum_g, sum_d}) / static_cast<double>(steps)).cpu();
    const std::vector<std::pair<std::string, double>> losses = {{"loss_g", l[0].item<double>()},
                                                                {"loss_d", l[1].item<double>()}};
    if (!std::isfinite(losses[0].second) || !std::isfinite(losses[1].second)) {
      const bool kept = last_good.restore(modules(), optimizers());
      fitted_ = kept;
      check_finite_losses(
          "ctgan", epoch + 1, losses,
          kept ? fmt::format("the model keeps its state after epoch {}; lower generator_lr / "
                             "discriminator_lr or check the data for extreme values",
                             epochs_done_)
               : "no epoch finished; lower generator_lr / discriminator_lr or check the data "
                 "for extreme values");
    }
    epochs_done_ = epoch + 1;
    fitted_ = true;
    last_good.take(modules(), optimizers());
    progress.epoch_done(epochs_done_, losses);
  }
  progress.finish();
  drop_grads(*opt_d_);  // (on a GPU they live in the graph's memory pool)
  drop_grads(*opt_g_);
  fitted_ = true;
}

void Ctgan::check_where(const Conditions& where, int64_t* block, int64_t* code) const {
  *block = *code = -1;
  if (where.empty()) return;
  RF_CHECK_INPUT(where.size() == 1,
                 "ctgan: {} --where conditions given; ctgan conditions on one column value at a "
                 "time (give one --where col=value)",
                 where.size());
  const Schema& sch = tr_.schema();
  const auto& [col, value] = where[0];
  std::vector<std::string> valid;
  for (int64_t c : lay_.column) valid.push_back(sch.columns[static_cast<size_t>(c)].name);
  const std::string valid_text =
      valid.empty() ? "(none in this table)" : fmt::format("{}", fmt::join(valid, ", "));
  const int ti = sch.index_of(col);
  RF_CHECK_INPUT(ti >= 0,
                 "ctgan: --where: unknown column '{}'; ctgan conditions on the "
                 "categorical feature columns: {}",
                 col, valid_text);
  RF_CHECK_INPUT(ti != sch.target_index(),
                 "ctgan: --where: '{}' is the target; use --class for it (categorical feature "
                 "columns: {})",
                 col, valid_text);
  const auto wi = std::find(lay_.column.begin(), lay_.column.end(), ti);
  RF_CHECK_INPUT(wi != lay_.column.end(),
                 "ctgan: --where: column '{}' is numeric; ctgan conditions on the categorical "
                 "feature columns: {}",
                 col, valid_text);
  const auto& cats = sch.columns[static_cast<size_t>(ti)].categories;
  const auto vi = std::find(cats.begin(), cats.end(), value);
  RF_CHECK_INPUT(vi != cats.end(),
                 "ctgan: --where: '{}' is not a category of column '{}'; valid values: {}", value,
                 col, fmt::format("{}", fmt::join(cats, ", ")));
  *block = wi - lay_.column.begin();
  *code = vi - cats.begin();
}

Table Ctgan::sample(int64_t n, const std::string& cls, const Conditions& where,
                    const Context& ctx) const {
  RF_CHECK(fitted_, "ctgan: sample() before fit or load");
  RF_CHECK_INPUT(n >= 0, "ctgan: --n must be >= 0 (got {})", n);
  const int64_t k = class_code(tr_.schema(), cls, "ctgan");
  int64_t wblock = -1, wcode = -1;
  check_where(where, &wblock, &wcode);

  torch::NoGradGuard no_grad;
  const torch::Device dev = device_;
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(dev);
  const auto i64 = torch::TensorOptions().dtype(torch::kInt64).device(dev);
  seed_torch(ctx, 0x5A3D);
  GeneratorNet gen = gen_;  // a handle to the same module
  gen->eval();

  // Column part when no `where` is given: a conditioning column uniformly, its value by the
  // class's training frequencies (all classes' when the class had no training rows).
  Tensor probs;  // C x maxW
  const int64_t nc = lay_.n_cols();
  if (wblock < 0 && nc > 0) {
    const int64_t maxw = lay_.max_width();
    std::vector<float> pv(static_cast<size_t>(nc * maxw), 0.0f);
    for (int64_t j = 0; j < nc; ++j) {
      int64_t tot = 0;
      for (int64_t v = 0; v < lay_.width[j]; ++v)
        tot += value_counts_[k * lay_.dim + lay_.offset[j] + v];
      for (int64_t v = 0; v < lay_.width[j]; ++v) {
        int64_t c = 0;
        if (tot > 0) {
          c = value_counts_[k * lay_.dim + lay_.offset[j] + v];
        } else {
          for (int64_t kk = 0; kk < lay_.n_classes; ++kk)
            c += value_counts_[kk * lay_.dim + lay_.offset[j] + v];
        }
        pv[j * maxw + v] = static_cast<float>(c);
      }
    }
    probs = torch::from_blob(pv.data(), {nc, maxw}, torch::kFloat32).clone().to(dev);
  }
  const Tensor offsets = torch::tensor(lay_.offset, torch::kInt64).to(dev);
  const ActivationPlan act = ActivationPlan::build(tr_.spans(), tr_.output_dim(), dev);

  // Fixed-size chunks: the rows drawn for a seed do not depend on the device's memory.
  const int64_t chunk = 10000;
  std::vector<Tensor> outs;
  Tensor hit = torch::zeros({}, i64);
  for (int64_t done = 0; done < n; done += chunk) {
    const int64_t m = std::min(chunk, n - done);
    const Tensor cls_t = torch::full({m}, k, i64);
    Tensor col, val;
    if (nc > 0) {
      if (wblock >= 0) {
        col = torch::full({m}, wblock, i64);
        val = torch::full({m}, wcode, i64);
      } else {
        col = torch::randint(nc, {m}, i64);
        val = torch::multinomial(probs.index_select(0, col), 1).squeeze(1);
      }
    }
    const Tensor cond = make_cond(lay_, cls_t, col, val, offsets);
    const Tensor z = torch::randn({m, p_.embedding_dim}, f32);
    const Tensor fake = activate(gen->forward(torch::cat({z, cond}, 1)), act, p_.tau);
    if (wblock >= 0)
      hit += (fake.narrow(1, lay_.span_start[wblock], lay_.width[wblock]).argmax(1) == wcode).sum();
    outs.push_back(fake);
  }
  const MatrixRM enc = n > 0 ? to_matrix(torch::cat(outs)) : MatrixRM(0, tr_.output_dim());
  Table out =
      tr_.inverse(enc, std::vector<int32_t>(static_cast<size_t>(n), static_cast<int32_t>(k)));
  if (wblock >= 0) {
    // The condition is enforced as the reference intends: the generator was asked for the value
    // through the condition vector, and the decoded column is set to it.
    const size_t cj = static_cast<size_t>(lay_.column[static_cast<size_t>(wblock)]);
    Column c = out.column(cj);
    std::fill(c.codes.begin(), c.codes.end(), static_cast<int32_t>(wcode));
    out.set_column(cj, std::move(c));
    if (!ctx.quiet && n > 0)
      std::fprintf(stderr,
                   "rareforge: ctgan: the generator produced %s=%s in %.1f%% of the %lld rows; "
                   "the rest were set to it\n",
                   where[0].first.c_str(), where[0].second.c_str(),
                   100.0 * static_cast<double>(hit.item<int64_t>()) / static_cast<double>(n),
                   static_cast<long long>(n));
  }
  set_synthetic_provenance(out, spec());
  return out;
}

// --- checkpoints -----------------------------------------------------------------------------
//
// generators/torch_util.h layout; modules and optimisers "generator" and "discriminator"; meta:
//   {"format": "rareforge-ctgan", "version": 1, "epochs_done", "class_counts", "value_counts",
//    "transformer": DataTransformer::to_json()}

nlohmann::json Ctgan::meta() const {
  nlohmann::json m;
  m["format"] = "rareforge-ctgan";
  m["version"] = 1;
  m["epochs_done"] = epochs_done_;
  m["class_counts"] = class_counts_;
  m["value_counts"] = value_counts_;
  m["transformer"] = tr_.to_json();
  return m;
}

void Ctgan::save(const std::string& path) const {
  RF_CHECK(fitted_, "ctgan: save() before fit");
  write_checkpoint(
      path, make_checkpoint_header("ctgan", spec(), trained_on_, tr_.schema(), class_counts_),
      {{"generator", gen_.get()}, {"discriminator", disc_.get()}},
      {{"generator", opt_g_.get()}, {"discriminator", opt_d_.get()}}, meta());
}

void Ctgan::load(const std::string& path, const Context& ctx) {
  const torch::Device dev = torch_device(ctx);
  CheckpointReader r(path, "ctgan", dev);
  const CheckpointHeader& h = r.header();
  // The networks' shapes come from the checkpoint's spec and must match this object's
  // (load_generator builds the object from that spec); the training parameters (epochs,
  // learning rates, ...) are this object's, used by a later fit(resume=true).
  const CtganParams saved =
      params_from(check_params(parse_method_spec(h.spec), ctgan_param_defs()));
  r.require_same_architecture(
      {{"embedding_dim", saved.embedding_dim == p_.embedding_dim},
       {"generator_dim", saved.generator_dim == p_.generator_dim},
       {"discriminator_dim", saved.discriminator_dim == p_.discriminator_dim},
       {"pac", saved.pac == p_.pac},
       {"dropout", saved.dropout == p_.dropout},
       {"max_modes", saved.max_modes == p_.max_modes},
       {"weight_threshold", saved.weight_threshold == p_.weight_threshold}});
  r.require_meta_format("rareforge-ctgan", 1);
  try {
    const nlohmann::json& m = r.meta();
    tr_ = DataTransformer::from_json(m.at("transformer"));
    epochs_done_ = m.at("epochs_done").get<int64_t>();
    class_counts_ = m.at("class_counts").get<std::vector<int64_t>>();
    value_counts_ = m.at("value_counts").get<std::vector<int64_t>>();
  } catch (const nlohmann::json::exception& e) {
    RF_THROW_INPUT("ctgan: model file '{}' has malformed metadata ({})", path, e.what());
  }
  lay_ = CondLayout::build(tr_);
  RF_CHECK_INPUT(value_counts_.size() == static_cast<size_t>(lay_.n_classes * lay_.dim) &&
                     tr_.schema() == h.schema,
                 "ctgan: model file '{}': the metadata does not match its header", path);
  trained_on_ = h.device;
  build_nets(dev);
  r.load_module("generator", *gen_);
  r.load_module("discriminator", *disc_);
  r.load_optimizer("generator", *opt_g_);
  r.load_optimizer("discriminator", *opt_d_);
  fitted_ = true;
}

}  // namespace

void register_ctgan() {
  GeneratorInfo info;
  info.name = "ctgan";
  info.description =
      "conditional WGAN-GP with PacGAN on mode-specific normalised columns (CTGAN); conditions "
      "on the class and on one categorical value";
  info.params = ctgan_param_defs();
  info.create = [](const ParamValues& p,
                   const std::string& canonical) -> std::unique_ptr<Generator> {
    return std::make_unique<Ctgan>(params_from(p), canonical);
  };
  register_generator(std::move(info));
}

}  // namespace rareforge::generators
