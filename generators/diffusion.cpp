// Gaussian + multinomial diffusion (generators/diffusion.h).
#include "generators/diffusion.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"

namespace rareforge::generators {

namespace {

constexpr double kPi = 3.14159265358979323846;

torch::Tensor zero_scalar(torch::Device device) {
  return torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat32).device(device));
}

}  // namespace

CosineSchedule CosineSchedule::make(int64_t T) {
  RF_CHECK(T >= 1, "diffusion: T={} must be >= 1", T);
  auto abar = [](double u) {
    const double c = std::cos((u + 0.008) / 1.008 * kPi / 2.0);
    return c * c;
  };
  CosineSchedule s;
  s.T = T;
  s.betas.resize(static_cast<size_t>(T));
  s.alphas_cumprod.resize(static_cast<size_t>(T));
  double prod = 1.0;
  for (int64_t t = 0; t < T; ++t) {
    const double b = std::min(
        1.0 - abar(static_cast<double>(t + 1) / T) / abar(static_cast<double>(t) / T), 0.999);
    s.betas[static_cast<size_t>(t)] = b;
    prod *= 1.0 - b;
    s.alphas_cumprod[static_cast<size_t>(t)] = prod;
  }
  return s;
}

double CosineSchedule::log_cumprod(int64_t t) const {
  double acc = 0.0;
  for (int64_t i = 0; i <= t; ++i) acc += std::log(1.0 - betas[static_cast<size_t>(i)]);
  return acc;
}

std::vector<int64_t> strided_steps(int64_t T, int64_t steps) {
  RF_CHECK(T >= 1 && steps >= 1, "diffusion: strided_steps(T={}, steps={})", T, steps);
  const int64_t S = std::min(steps, T);
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(S));
  if (S == 1) return {T - 1};
  // round(i (T-1) / (S-1)); the spacing is >= 1, so the values are distinct.
  for (int64_t i = S - 1; i >= 0; --i) out.push_back((i * (T - 1) + (S - 1) / 2) / (S - 1));
  return out;
}

CatLayout CatLayout::make(const std::vector<int64_t>& widths) {
  CatLayout l;
  l.n_spans = static_cast<int64_t>(widths.size());
  l.order.resize(widths.size());
  std::iota(l.order.begin(), l.order.end(), int64_t{0});
  std::stable_sort(l.order.begin(), l.order.end(), [&](int64_t a, int64_t b) {
    return widths[static_cast<size_t>(a)] < widths[static_cast<size_t>(b)];
  });
  for (int64_t i : l.order) {
    const int64_t w = widths[static_cast<size_t>(i)];
    RF_CHECK(w >= 1, "diffusion: categorical span of width {}", w);
    if (l.groups.empty() || l.groups.back().width != w) l.groups.push_back({l.dim, 0, w});
    ++l.groups.back().count;
    l.dim += w;
  }
  return l;
}

torch::Tensor log1mexp(const torch::Tensor& a) {
  // log(-expm1(a)) is accurate for a near 0, log1p(-exp(a)) for a very negative.
  return torch::where(a > -0.6931471805599453, torch::log(-torch::expm1(a)),
                      torch::log1p(-torch::exp(a)));
}

torch::Tensor timestep_embedding(const torch::Tensor& t, int64_t dim) {
  const int64_t half = dim / 2;
  const auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(t.device());
  const torch::Tensor freqs =
      torch::exp(torch::arange(half, opts) * (-std::log(10000.0) / static_cast<double>(half)));
  const torch::Tensor args = t.to(torch::kFloat32).unsqueeze(1) * freqs.unsqueeze(0);
  return torch::cat({torch::cos(args), torch::sin(args)}, 1);
}

DenoiserImpl::DenoiserImpl(int64_t d, int64_t n_labels, const std::vector<int64_t>& hidden,
                           double dropout, int64_t dim)
    : p_drop(dropout), dim_t(dim) {
  proj = register_module("proj", torch::nn::Linear(d, dim_t));
  time1 = register_module("time1", torch::nn::Linear(dim_t, dim_t));
  time2 = register_module("time2", torch::nn::Linear(dim_t, dim_t));
  label = register_module("label", torch::nn::Embedding(n_labels, dim_t));
  int64_t in = dim_t;
  for (size_t i = 0; i < hidden.size(); ++i) {
    layers.push_back(register_module("fc" + std::to_string(i), torch::nn::Linear(in, hidden[i])));
    in = hidden[i];
  }
  out = register_module("out", torch::nn::Linear(in, d));
}

torch::Tensor DenoiserImpl::forward(const torch::Tensor& x, const torch::Tensor& t,
                                    const torch::Tensor& y) {
  torch::Tensor emb = time2->forward(torch::silu(time1->forward(timestep_embedding(t, dim_t))));
  emb = emb + torch::silu(label->forward(y));
  torch::Tensor h = proj->forward(x) + emb;
  for (auto& l : layers) {
    h = torch::relu(l->forward(h));
    if (p_drop > 0) h = torch::dropout(h, p_drop, is_training());
  }
  return out->forward(h);
}

TabDiffusion::TabDiffusion(int64_t T, int64_t dn, const std::vector<int64_t>& cat_widths,
                           torch::Device device)
    : schedule_(CosineSchedule::make(T)),
      layout_(CatLayout::make(cat_widths)),
      dn_(dn),
      device_(device) {
  std::vector<double> lc(static_cast<size_t>(T)), sa(lc.size()), s1(lc.size());
  double acc = 0.0;
  for (size_t t = 0; t < lc.size(); ++t) {
    acc += std::log(1.0 - schedule_.betas[t]);
    lc[t] = acc;
    sa[t] = std::sqrt(schedule_.alphas_cumprod[t]);
    s1[t] = std::sqrt(1.0 - schedule_.alphas_cumprod[t]);
  }
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  const torch::Tensor lc64 = torch::tensor(lc, f64);
  const torch::Tensor prev = torch::cat({lc64.narrow(0, 0, 1), lc64.narrow(0, 0, T - 1)});
  const torch::Tensor la64 = (lc64 - prev).clamp_max(-1e-12);
  const auto f32 = [&](const torch::Tensor& x) { return x.to(torch::kFloat32).to(device_); };
  log_cumprod_ = lc64.to(device_);
  lc_f_ = f32(lc64);
  l1m_lc_f_ = f32(log1mexp(lc64));
  la_prev_f_ = f32(la64);
  l1m_la_prev_f_ = f32(log1mexp(la64));
  sqrt_abar_ = f32(torch::tensor(sa, f64));
  sqrt_1m_abar_ = f32(torch::tensor(s1, f64));
  std::vector<float> lk;
  for (const auto& g : layout_.groups)
    for (int64_t i = 0; i < g.count * g.width; ++i)
      lk.push_back(static_cast<float>(std::log(static_cast<double>(g.width))));
  log_k_ = torch::tensor(lk, torch::kFloat32).reshape({1, layout_.dim}).to(device_);
}

torch::Tensor TabDiffusion::at(const torch::Tensor& table, const torch::Tensor& t) const {
  return table.index_select(0, t).unsqueeze(1);
}

torch::Tensor TabDiffusion::q_sample_gauss(const torch::Tensor& x0, const torch::Tensor& t,
                                           const torch::Tensor& noise) const {
  return at(sqrt_abar_, t) * x0 + at(sqrt_1m_abar_, t) * noise;
}

torch::Tensor TabDiffusion::span_logsumexp(const torch::Tensor& x) const {
  const int64_t B = x.size(0);
  std::vector<torch::Tensor> parts;
  for (const auto& g : layout_.groups) {
    parts.push_back(x.narrow(1, g.offset, g.count * g.width)
                        .reshape({B, g.count, g.width})
                        .logsumexp(2, true)
                        .expand({B, g.count, g.width})
                        .reshape({B, g.count * g.width}));
  }
  return parts.size() == 1 ? parts[0] : torch::cat(parts, 1);
}

torch::Tensor TabDiffusion::span_log_softmax(const torch::Tensor& x) const {
  return x - span_logsumexp(x);
}

torch::Tensor TabDiffusion::sample_onehot(const torch::Tensor& log_p) const {
  const int64_t B = log_p.size(0);
  const torch::Tensor u = torch::rand_like(log_p).clamp_min(kMinProb);
  const torch::Tensor g = log_p - torch::log(-torch::log(u));
  std::vector<torch::Tensor> parts;
  for (const auto& gr : layout_.groups) {
    const torch::Tensor idx =
        g.narrow(1, gr.offset, gr.count * gr.width).reshape({B, gr.count, gr.width}).argmax(2);
    parts.push_back(torch::nn::functional::one_hot(idx, gr.width)
                        .to(torch::kFloat32)
                        .reshape({B, gr.count * gr.width}));
  }
  return parts.size() == 1 ? parts[0] : torch::cat(parts, 1);
}

torch::Tensor TabDiffusion::log_q_xt_x0(const torch::Tensor& log_x0, const torch::Tensor& t) const {
  return torch::logaddexp(log_x0 + at(lc_f_, t), at(l1m_lc_f_, t) - log_k_);
}

TabDiffusion::PosteriorCoef TabDiffusion::posterior_coef(const torch::Tensor& t,
                                                         const torch::Tensor& s) const {
  const torch::Tensor s_safe = s.clamp_min(0);
  const torch::Tensor lc_t = log_cumprod_.index_select(0, t).unsqueeze(1);
  const torch::Tensor lc_s = log_cumprod_.index_select(0, s_safe).unsqueeze(1);
  // Rows with s = -1 (t = 0) have a = 1 here; their result is replaced, the clamp keeps it finite.
  const torch::Tensor la = (lc_t - lc_s).clamp_max(-1e-12);
  return {at(lc_f_, s_safe), at(l1m_lc_f_, s_safe), la.to(torch::kFloat32),
          log1mexp(la).to(torch::kFloat32), (s < 0).unsqueeze(1)};
}

TabDiffusion::PosteriorCoef TabDiffusion::posterior_coef_prev(const torch::Tensor& t) const {
  const torch::Tensor s_safe = (t - 1).clamp_min(0);
  return {at(lc_f_, s_safe), at(l1m_lc_f_, s_safe), at(la_prev_f_, t), at(l1m_la_prev_f_, t),
          (t == 0).unsqueeze(1)};
}

torch::Tensor TabDiffusion::log_posterior(const torch::Tensor& log_x0, const torch::Tensor& log_xt,
                                          const torch::Tensor& t, const torch::Tensor& s) const {
  return log_posterior(log_x0, log_xt, posterior_coef(t, s));
}

torch::Tensor TabDiffusion::log_posterior(const torch::Tensor& log_x0, const torch::Tensor& log_xt,
                                          const PosteriorCoef& c) const {
  // log q(x_s | x_0)
  const torch::Tensor lq_s = torch::logaddexp(log_x0 + c.lc_s, c.l1m_lc_s - log_k_);
  // log q(x_t | x_s) as a function of x_s: a x_t + (1 - a) / K with a = abar_t / abar_s.
  const torch::Tensor lq_ts = torch::logaddexp(log_xt + c.la, c.l1m_la - log_k_);
  const torch::Tensor un = lq_s + lq_ts;
  const torch::Tensor post = (un - span_logsumexp(un)).clamp_min(std::log(kMinProb));
  return torch::where(c.first, log_x0, post);
}

DiffusionLoss TabDiffusion::loss(Denoiser& model, const torch::Tensor& x_num,
                                 const torch::Tensor& x_cat, const torch::Tensor& y,
                                 double label_dropout, int64_t null_label) const {
  const int64_t B = y.size(0);
  const auto i64 = torch::TensorOptions().dtype(torch::kInt64).device(device_);
  const torch::Tensor t = torch::randint(0, T(), {B}, i64);
  std::vector<torch::Tensor> in;
  torch::Tensor noise;
  if (dn_ > 0) {
    noise = torch::randn_like(x_num);
    in.push_back(q_sample_gauss(x_num, t, noise));
  }
  torch::Tensor log_x0, log_xt;
  if (layout_.dim > 0) {
    log_x0 = torch::log(x_cat.clamp_min(kMinProb));
    const torch::Tensor xt = sample_onehot(log_q_xt_x0(log_x0, t));
    log_xt = torch::log(xt.clamp_min(kMinProb));
    in.push_back(xt);
  }
  torch::Tensor y_in = y;
  if (label_dropout > 0) {
    const torch::Tensor drop = torch::rand({B}, i64.dtype(torch::kFloat32)) < label_dropout;
    y_in = torch::where(drop, torch::full_like(y, null_label), y);
  }
  const torch::Tensor out = model->forward(in.size() == 1 ? in[0] : torch::cat(in, 1), t, y_in);

  DiffusionLoss L{zero_scalar(device_), zero_scalar(device_)};
  if (dn_ > 0) L.gauss = (out.narrow(1, 0, dn_) - noise).pow(2).mean();
  if (layout_.dim > 0) {
    const torch::Tensor log_x0_hat =
        span_log_softmax(out.narrow(1, dn_, layout_.dim)).clamp_min(std::log(kMinProb));
    const PosteriorCoef coef = posterior_coef_prev(t);
    const torch::Tensor log_true = log_posterior(log_x0, log_xt, coef);
    const torch::Tensor log_model = log_posterior(log_x0_hat, log_xt, coef);
    const torch::Tensor kl = (log_true.exp() * (log_true - log_model)).sum(1);
    const torch::Tensor nll = -(log_x0.exp() * log_model).sum(1);
    const torch::Tensor kl_t = torch::where(t == 0, nll, kl);
    // KL(q(x_{T-1} | x_0) || uniform): constant in the parameters, part of the bound.
    const torch::Tensor lq_T =
        log_q_xt_x0(log_x0, torch::full({B}, T() - 1, i64)).clamp_min(std::log(kMinProb));
    const torch::Tensor kl_prior = (lq_T.exp() * (lq_T + log_k_)).sum(1);
    L.multinomial =
        (kl_t * static_cast<double>(T()) + kl_prior).mean() / static_cast<double>(layout_.n_spans);
  }
  return L;
}

DiffusionSample TabDiffusion::sample(Denoiser& model, int64_t n, int64_t y,
                                     const SampleOptions& opt) const {
  torch::NoGradGuard no_grad;
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(device_);
  const auto i64 = f32.dtype(torch::kInt64);
  const bool guided = opt.guidance > 0;
  RF_CHECK(!guided || opt.null_label >= 0, "diffusion: guidance needs the null label");
  DiffusionSample r;
  r.x_num = torch::randn({n, dn_}, f32);
  r.x_cat = layout_.dim > 0 ? sample_onehot((-log_k_).expand({n, layout_.dim}).contiguous())
                            : torch::zeros({n, 0}, f32);
  const torch::Tensor labels =
      guided ? torch::cat({torch::full({n}, y, i64), torch::full({n}, opt.null_label, i64)})
             : torch::full({n}, y, i64);
  const std::vector<int64_t> steps = strided_steps(T(), opt.steps);
  const int64_t S = static_cast<int64_t>(steps.size());
  // Non-finite model outputs are recorded per step without a host sync and checked at the end.
  torch::Tensor bad = torch::zeros({S}, f32.dtype(torch::kBool));
  const auto& ac = schedule_.alphas_cumprod;
  for (int64_t i = 0; i < S; ++i) {
    const int64_t t = steps[static_cast<size_t>(i)];
    const int64_t s = i + 1 < S ? steps[static_cast<size_t>(i + 1)] : -1;
    const torch::Tensor x_in = torch::cat({r.x_num, r.x_cat}, 1);
    torch::Tensor out;
    if (guided) {
      const torch::Tensor both =
          model->forward(torch::cat({x_in, x_in}), torch::full({2 * n}, t, i64), labels);
      const torch::Tensor c = both.narrow(0, 0, n), u = both.narrow(0, n, n);
      out = c + opt.guidance * (c - u);
    } else {
      out = model->forward(x_in, torch::full({n}, t, i64), labels);
    }
    bad[i] = out.isfinite().logical_not().any();
    if (dn_ > 0) {
      const double ab_t = ac[static_cast<size_t>(t)];
      const double ab_s = s >= 0 ? ac[static_cast<size_t>(s)] : 1.0;
      const torch::Tensor eps0 = out.narrow(1, 0, dn_);
      const torch::Tensor x0 = ((r.x_num - std::sqrt(1.0 - ab_t) * eps0) / std::sqrt(ab_t))
                                   .clamp(-kNumericClip, kNumericClip);
      const torch::Tensor eps = (r.x_num - std::sqrt(ab_t) * x0) / std::sqrt(1.0 - ab_t);
      const double sigma =
          s >= 0 ? opt.eta * std::sqrt((1.0 - ab_s) / (1.0 - ab_t)) * std::sqrt(1.0 - ab_t / ab_s)
                 : 0.0;
      torch::Tensor next =
          std::sqrt(ab_s) * x0 + std::sqrt(std::max(0.0, 1.0 - ab_s - sigma * sigma)) * eps;
      if (sigma > 0) next = next + sigma * torch::randn_like(next);
      r.x_num = next;
    }
    if (layout_.dim > 0) {
      const torch::Tensor log_x0 =
          span_log_softmax(out.narrow(1, dn_, layout_.dim)).clamp_min(std::log(kMinProb));
      const torch::Tensor log_xt = torch::log(r.x_cat.clamp_min(kMinProb));
      const torch::Tensor post =
          log_posterior(log_x0, log_xt, torch::full({n}, t, i64), torch::full({n}, s, i64));
      r.x_cat = sample_onehot(post);
    }
  }
  const torch::Tensor bad_cpu = bad.to(torch::kCPU);
  for (int64_t i = 0; i < S; ++i) {
    if (bad_cpu[i].item<bool>())
      throw Error(fmt::format(
          "ddpm: the denoiser produced NaN/Inf at sampling step {} of {} (t={}); the model is "
          "unusable: retrain with a lower lr or fewer hidden units",
          i + 1, S, steps[static_cast<size_t>(i)]));
  }
  return r;
}

}  // namespace rareforge::generators
