// Gaussian + multinomial diffusion for tabular rows (TabDDPM, Kotelnikov et al., ICML 2023;
// multinomial diffusion: Hoogeboom et al., NeurIPS 2021). INTERNAL header: it includes LibTorch
// and is included only by generators/*.cpp and the generator tests; the public face of the
// method is the `ddpm` entry of the generator registry (generators/ddpm.cpp).
//
// Data layout. A batch is two float32 tensors on one device:
//   x_num  B x dn  numeric part (quantile-to-normal values, roughly N(0,1), |x| <= ~5.2);
//   x_cat  B x dc  categorical part: one one-hot block per categorical span, the spans ORDERED BY
//                  WIDTH (CatLayout below), so that the spans of one width form one contiguous
//                  block viewable as B x m x w and every per-span operation is one kernel per
//                  distinct width instead of one per span.
// Either part may be empty (dn = 0 or dc = 0). The denoiser sees cat(x_num_t, onehot(x_cat_t)) and
// returns B x (dn + dc): the predicted noise for the numeric part, then logits of x_0 per span.
//
// Time: t = 0..T-1 indexes the schedule; x_t is the row after t+1 noising steps, so
// alphas_cumprod[0] < 1 and x_{-1} is the data itself.
//
// Schedule (Nichol & Dhariwal 2021, the one TabDDPM uses):
//   abar(u) = cos^2((u + 0.008) / 1.008 * pi / 2),  beta_t = min(1 - abar((t+1)/T) / abar(t/T),
//   0.999) alphas_cumprod[t] = prod_{i<=t} (1 - beta_i)
// Gaussian forward process: q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I).
// Multinomial forward process per span of K categories (probabilities, x one-hot):
//   q(x_t | x_0)     = Cat(abar_t x_0 + (1 - abar_t) / K)
//   q(x_t | x_s)     = Cat(a x_s + (1 - a) / K),  a = abar_t / abar_s  (s < t; s = t-1: one step)
//   q(x_s | x_t,x_0) ∝ q(x_t | x_s) q(x_s | x_0)  (the "strided posterior"; s = -1 gives x_0)
// all evaluated in log space (log-add-exp), log-probabilities clamped at log(1e-30).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace rareforge::generators {

/// Smallest probability kept in log space: log-probabilities are clamped at log(kMinProb).
inline constexpr double kMinProb = 1e-30;
/// Predicted clean numeric values are clipped to +-kNumericClip during sampling: the quantile
/// transform maps data into Phi^-1(1e-7)..Phi^-1(1-1e-7) = +-5.1993, so nothing real lies beyond.
inline constexpr double kNumericClip = 5.2;

/// The cosine noise schedule in double precision (host).
struct CosineSchedule {
  int64_t T = 0;
  std::vector<double> betas;           ///< size T
  std::vector<double> alphas_cumprod;  ///< size T, decreasing from ~1 to ~0

  /// Schedule with T steps (T >= 1).
  static CosineSchedule make(int64_t T);
  /// log(alphas_cumprod[t]) accumulated as a sum of logs (as TabDDPM does); 0 for t = -1.
  double log_cumprod(int64_t t) const;
};

/// Time steps visited by the strided sampler: `steps` values from T-1 down to 0, evenly spaced,
/// each distinct (steps is capped at T). steps = T gives every step (the ancestral sampler).
std::vector<int64_t> strided_steps(int64_t T, int64_t steps);

/// How the categorical spans sit in x_cat: spans sorted by width (stable), grouped by width.
struct CatLayout {
  struct Group {
    int64_t offset = 0;  ///< first column of the group in x_cat
    int64_t count = 0;   ///< spans in the group
    int64_t width = 0;   ///< categories per span
  };
  std::vector<Group> groups;
  std::vector<int64_t> order;  ///< order[i] = index (in the caller's list) of the i-th span here
  int64_t dim = 0;             ///< total columns (sum of widths)
  int64_t n_spans = 0;

  /// Layout for spans of the given widths (each >= 1), in the caller's order.
  static CatLayout make(const std::vector<int64_t>& widths);
};

/// log(1 - exp(a)) for a <= 0, accurate at both ends (Maechler 2012).
torch::Tensor log1mexp(const torch::Tensor& a);

/// The time embedding of the denoiser: [cos(t f_0..f_{h-1}), sin(t f_0..)] with
/// f_i = 10000^(-i/h), h = dim/2 (dim even). t: B (int64) -> B x dim float32.
torch::Tensor timestep_embedding(const torch::Tensor& t, int64_t dim);

/// The denoiser: x (B x d) and t go in, noise/logits (B x d) come out.
///   h = proj(x) + time_mlp(sinusoidal(t)) + silu(label_embedding(y))
///   h = Dropout(ReLU(Linear(h))) per hidden layer; out = Linear(h)
/// time_mlp is Linear(dim_t, dim_t) -> SiLU -> Linear(dim_t, dim_t). Labels run 0..n_labels-1;
/// with classifier-free guidance the last label is the "no class" label.
struct DenoiserImpl : torch::nn::Module {
  DenoiserImpl(int64_t d, int64_t n_labels, const std::vector<int64_t>& hidden, double dropout,
               int64_t dim_t = 128);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y);

  torch::nn::Linear proj{nullptr}, time1{nullptr}, time2{nullptr}, out{nullptr};
  torch::nn::Embedding label{nullptr};
  std::vector<torch::nn::Linear> layers;
  double p_drop = 0.0;
  int64_t dim_t = 128;
};
TORCH_MODULE(Denoiser);

/// Losses of one training batch (0-dim tensors; a part that is absent is a zero tensor).
struct DiffusionLoss {
  torch::Tensor gauss;        ///< MSE of the predicted noise, mean over rows and columns
  torch::Tensor multinomial;  ///< per row: T * KL_t (or the decoder NLL at t = 0) + KL prior,
                              ///< averaged over rows and divided by the number of spans
  torch::Tensor total() const { return gauss + multinomial; }
};

/// One sampled batch: numeric part and one-hot categorical part (layout as above).
struct DiffusionSample {
  torch::Tensor x_num;
  torch::Tensor x_cat;
};

/// Sampling options.
struct SampleOptions {
  int64_t steps = 100;      ///< strided sampler steps (capped at T; T = the ancestral sampler)
  double eta = 1.0;         ///< DDIM noise level: 0 deterministic given x_T, 1 = DDPM variance
  double guidance = 0.0;    ///< classifier-free guidance scale (0 = off): out = c + g (c - u)
  int64_t null_label = -1;  ///< the "no class" label (needed when guidance > 0)
};

/// The diffusion processes on one device. Random draws use the device's default generator
/// (seed it before calling: see torch_util.h).
class TabDiffusion {
 public:
  TabDiffusion() = default;
  /// T steps, dn numeric columns, categorical spans of the given widths (caller's order; x_cat
  /// is in layout() order, see CatLayout::order).
  TabDiffusion(int64_t T, int64_t dn, const std::vector<int64_t>& cat_widths, torch::Device device);

  int64_t T() const { return schedule_.T; }
  int64_t dn() const { return dn_; }
  int64_t dc() const { return layout_.dim; }
  const CosineSchedule& schedule() const { return schedule_; }
  const CatLayout& layout() const { return layout_; }

  // --- the two forward processes (exposed for tests) -----------------------------------------
  /// x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) noise (t: B int64).
  torch::Tensor q_sample_gauss(const torch::Tensor& x0, const torch::Tensor& t,
                               const torch::Tensor& noise) const;
  /// log q(x_t | x_0) for log-probabilities (or log one-hot) log_x0, per span.
  torch::Tensor log_q_xt_x0(const torch::Tensor& log_x0, const torch::Tensor& t) const;
  /// log q(x_s | x_t, x_0) per span; rows with s = -1 get log_x0 (t, s: B int64, s < t).
  torch::Tensor log_posterior(const torch::Tensor& log_x0, const torch::Tensor& log_xt,
                              const torch::Tensor& t, const torch::Tensor& s) const;
  /// x - logsumexp(x) per span.
  torch::Tensor span_log_softmax(const torch::Tensor& x) const;
  /// One-hot draw per span from log-probabilities (Gumbel-max).
  torch::Tensor sample_onehot(const torch::Tensor& log_p) const;

  // --- training and sampling ------------------------------------------------------------------
  /// Loss of one batch: t uniform in 0..T-1, labels y (B int64); with label_dropout > 0 each
  /// label is replaced by `null_label` with that probability.
  DiffusionLoss loss(Denoiser& model, const torch::Tensor& x_num, const torch::Tensor& x_cat,
                     const torch::Tensor& y, double label_dropout = 0.0,
                     int64_t null_label = -1) const;
  /// n rows of label y from pure noise with the strided sampler (model in eval mode, no grad).
  /// Throws rareforge::Error naming the step if a NaN/Inf appears.
  DiffusionSample sample(Denoiser& model, int64_t n, int64_t y, const SampleOptions& opt) const;

 private:
  /// The (t, s)-dependent factors of log_posterior, B x 1 float32 columns.
  struct PosteriorCoef {
    torch::Tensor lc_s, l1m_lc_s;  ///< log abar_s and log(1 - abar_s)
    torch::Tensor la, l1m_la;      ///< log(abar_t / abar_s) (clamped below 0) and log(1 - that)
    torch::Tensor first;           ///< B x 1 bool: s = -1 (the row gets log_x0)
  };
  /// For any s < t (sampling's strided steps).
  PosteriorCoef posterior_coef(const torch::Tensor& t, const torch::Tensor& s) const;
  /// For s = t - 1 (training), from per-t tables: a few gathers instead of the double-precision
  /// arithmetic; the same values.
  PosteriorCoef posterior_coef_prev(const torch::Tensor& t) const;
  torch::Tensor log_posterior(const torch::Tensor& log_x0, const torch::Tensor& log_xt,
                              const PosteriorCoef& c) const;
  torch::Tensor span_logsumexp(const torch::Tensor& x) const;
  /// Gather a float32 schedule vector at t (B) as a B x 1 column.
  torch::Tensor at(const torch::Tensor& table, const torch::Tensor& t) const;

  CosineSchedule schedule_;
  CatLayout layout_;
  int64_t dn_ = 0;
  torch::Device device_{torch::kCPU};
  // Schedule tables on device_, computed in float64. The float32 copies are what the batch
  // arithmetic reads; each is the float64 value rounded once, as a gather-then-convert would give.
  torch::Tensor log_cumprod_;    // T, float64: log abar_t
  torch::Tensor lc_f_;           // T: log abar_t
  torch::Tensor l1m_lc_f_;       // T: log(1 - abar_t)
  torch::Tensor la_prev_f_;      // T: log(abar_t / abar_{t-1}) clamped to <= -1e-12 (t = 0: -1e-12)
  torch::Tensor l1m_la_prev_f_;  // T: log(1 - that)
  torch::Tensor sqrt_abar_;      // T: sqrt(abar_t)
  torch::Tensor sqrt_1m_abar_;   // T: sqrt(1 - abar_t)
  torch::Tensor log_k_;          // 1 x dc float32: log(width) of each column's span
};

}  // namespace rareforge::generators
