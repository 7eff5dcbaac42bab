#include "generators/torch_util.h"

#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <type_traits>

#include <fmt/format.h>
#include <torch/version.h>

#include "core/error.h"
#include "core/io.h"
#include "core/version.h"
#include "generators/device.h"

namespace rareforge::generators {

// --- device, threads, seeds -----------------------------------------------------------------

torch::Device torch_device(const Context& ctx) {
  const Device d = resolve_device(ctx.device);
  return d.is_cuda() ? torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(d.index))
                     : torch::Device(torch::kCPU);
}

std::string device_name(const torch::Device& d) { return d.str(); }

void set_torch_threads(const Context& ctx) { torch::set_num_threads(ctx.n_threads()); }

void seed_torch(uint64_t seed) { torch::manual_seed(seed); }

uint64_t seed_torch(const Context& ctx, uint64_t salt) {
  const uint64_t s = Rng::derive(ctx.rng(streams::kGenerator).next(), salt).next();
  seed_torch(s);
  return s;
}

// --- data -------------------------------------------------------------------------------------

torch::Tensor to_device_float(const MatrixRM& m, const torch::Device& device) {
  if (m.size() == 0)
    return torch::zeros({m.rows(), m.cols()}, torch::dtype(torch::kFloat32).device(device));
  return torch::from_blob(const_cast<double*>(m.data()), {m.rows(), m.cols()}, torch::kFloat64)
      .to(torch::kFloat32)
      .to(device)
      .contiguous();
}

MatrixRM to_matrix(const torch::Tensor& t) {
  RF_CHECK(t.dim() == 2, "to_matrix: expected a 2-D tensor, got {} dimensions", t.dim());
  const torch::Tensor c = t.detach().to(torch::kCPU).to(torch::kFloat64).contiguous();
  MatrixRM m(c.size(0), c.size(1));
  if (m.size() > 0) std::copy(c.data_ptr<double>(), c.data_ptr<double>() + m.size(), m.data());
  return m;
}

torch::Tensor to_device_long(const std::vector<int32_t>& codes, const torch::Device& device) {
  std::vector<int64_t> v(codes.begin(), codes.end());
  return torch::tensor(v, torch::kInt64).to(device);
}

int32_t class_code(const Schema& schema, const std::string& cls, const std::string& method) {
  const int t = schema.target_index();
  RF_CHECK(t >= 0, "{}: the training schema has no target", method);
  const auto& cats = schema.columns[static_cast<size_t>(t)].categories;
  for (size_t c = 0; c < cats.size(); ++c)
    if (cats[c] == cls) return static_cast<int32_t>(c);
  std::string names;
  for (const auto& c : cats) names += (names.empty() ? "" : ", ") + c;
  RF_THROW_INPUT("{}: unknown class '{}' of target '{}'; the classes are: {}", method, cls,
                 schema.target, names);
}

void set_synthetic_provenance(Table& t, const std::string& spec) {
  const size_t n = t.n_rows();
  Provenance p;
  p.synthetic.assign(n, 1);
  p.method.assign(n, 0);
  p.methods = {spec};
  p.parent.assign(n, -1);
  p.neighbor.assign(n, -1);
  p.gap.assign(n, std::numeric_limits<double>::quiet_NaN());
  t.provenance() = std::move(p);
}

std::string layer_widths_text(const std::vector<int64_t>& widths) {
  std::string s;
  for (size_t i = 0; i < widths.size(); ++i) s += (i ? "-" : "") + std::to_string(widths[i]);
  return s;
}

// --- optimiser steps --------------------------------------------------------------------------

void drop_grads(torch::optim::Optimizer& opt) {
  for (auto& g : opt.param_groups())
    for (auto& p : g.params()) p.mutable_grad() = torch::Tensor();
}

namespace {

// The key of parameter p in an optimiser's state map: LibTorch 1.13 keys it by the address of
// p's TensorImpl written as text (c10::guts::to_string), later releases by the address itself.
template <class Map>
typename Map::key_type state_key(const Map&, const torch::Tensor& p) {
  using Key = typename Map::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream os;
    os << p.unsafeGetTensorImpl();
    return os.str();
  } else {
    return static_cast<Key>(p.unsafeGetTensorImpl());
  }
}

// True if the _foreach path applies to `group`: amsgrad off, every parameter with a dense
// gradient and existing state, all at the same step count.
template <class Options, class State>
bool foreach_adam_applies(torch::optim::Optimizer& opt, torch::optim::OptimizerParamGroup& group) {
  if (static_cast<const Options&>(group.options()).amsgrad()) return false;
  int64_t step = -1;
  for (auto& p : group.params()) {
    if (!p.grad().defined() || p.grad().is_sparse()) return false;
    auto it = opt.state().find(state_key(opt.state(), p));
    if (it == opt.state().end()) return false;
    const int64_t s = static_cast<State&>(*it->second).step();
    if (step >= 0 && s != step) return false;
    step = s;
  }
  return true;
}

// Adam's moments, in place and in LibTorch's order of operations: m = beta1 m + (1 - beta1) g,
// v = beta2 v + (1 - beta2) g^2. Returns sqrt(v), the start of the denominator.
std::vector<torch::Tensor> update_moments(const std::vector<torch::Tensor>& avg,
                                          const std::vector<torch::Tensor>& avg_sq,
                                          const std::vector<torch::Tensor>& grads, double beta1,
                                          double beta2) {
  at::_foreach_mul_(avg, beta1);
  at::_foreach_add_(avg, grads, 1 - beta1);
  at::_foreach_mul_(avg_sq, beta2);
  at::_foreach_addcmul_(avg_sq, grads, grads, 1 - beta2);
  return at::_foreach_sqrt(avg_sq);
}

// The _foreach form of LibTorch's Adam::step / AdamW::step (torch/csrc/api/src/optim/adam.cpp,
// adamw.cpp) for one parameter group that foreach_adam_applies to. `decoupled`: AdamW's weight
// decay (p *= 1 - lr * wd) instead of Adam's (grad += wd * p).
template <class Options, class State>
void foreach_adam_step(torch::optim::Optimizer& opt, torch::optim::OptimizerParamGroup& group,
                       bool decoupled) {
  const auto& o = static_cast<const Options&>(group.options());
  std::vector<torch::Tensor> params, grads, avg, avg_sq;
  int64_t t = 0;
  for (auto& p : group.params()) {
    auto& st = static_cast<State&>(*opt.state().at(state_key(opt.state(), p)));
    st.step(st.step() + 1);
    t = st.step();
    params.push_back(p);
    grads.push_back(p.grad());
    avg.push_back(st.exp_avg());
    avg_sq.push_back(st.exp_avg_sq());
  }
  if (params.empty()) return;
  const double beta1 = std::get<0>(o.betas()), beta2 = std::get<1>(o.betas());
  const double bc1 = 1 - std::pow(beta1, static_cast<double>(t));
  const double bc2 = 1 - std::pow(beta2, static_cast<double>(t));
  if (o.weight_decay() != 0) {
    if (decoupled)
      at::_foreach_mul_(params, 1 - o.lr() * o.weight_decay());
    else
      grads = at::_foreach_add(grads, params, o.weight_decay());
  }
  std::vector<torch::Tensor> denom = update_moments(avg, avg_sq, grads, beta1, beta2);
  at::_foreach_div_(denom, std::sqrt(bc2));
  at::_foreach_add_(denom, o.eps());
  at::_foreach_addcdiv_(params, avg, denom, -(o.lr() / bc1));
}

}  // namespace

void optimizer_step(torch::optim::Optimizer& opt) {
  using torch::optim::Adam, torch::optim::AdamOptions, torch::optim::AdamParamState;
  using torch::optim::AdamW, torch::optim::AdamWOptions, torch::optim::AdamWParamState;
  torch::NoGradGuard no_grad;
  const bool adam = dynamic_cast<Adam*>(&opt) != nullptr;
  const bool adamw = !adam && dynamic_cast<AdamW*>(&opt) != nullptr;
  bool fast = adam || adamw;
  // Every group is checked first, so that a fallback never follows a partial fast step.
  for (auto& g : opt.param_groups()) {
    if (!fast) break;
    fast = adam ? foreach_adam_applies<AdamOptions, AdamParamState>(opt, g)
                : foreach_adam_applies<AdamWOptions, AdamWParamState>(opt, g);
  }
  if (!fast) {
    opt.step();
    return;
  }
  for (auto& g : opt.param_groups()) {
    if (adam)
      foreach_adam_step<AdamOptions, AdamParamState>(opt, g, false);
    else
      foreach_adam_step<AdamWOptions, AdamWParamState>(opt, g, true);
  }
}

void ema_update(const std::vector<torch::Tensor>& ema, const std::vector<torch::Tensor>& params,
                double weight) {
  torch::NoGradGuard no_grad;
#if TORCH_VERSION_MAJOR >= 2
  at::_foreach_lerp_(ema, params, weight);
#else
  for (size_t i = 0; i < ema.size(); ++i) ema[i].lerp_(params[i], weight);
#endif
}

namespace {

// xs[i] *= s for a 0-dim device tensor s: one _foreach call on LibTorch >= 2.1 (its Tensor
// overload), a loop before.
void foreach_mul_tensor(const std::vector<torch::Tensor>& xs, const torch::Tensor& s) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
  at::_foreach_mul_(xs, s);
#else
  for (const auto& x : xs) x.mul_(s);
#endif
}

}  // namespace

void ema_update(const std::vector<torch::Tensor>& ema, const std::vector<torch::Tensor>& params,
                const torch::Tensor& weight) {
  torch::NoGradGuard no_grad;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
  std::vector<torch::Tensor> d = at::_foreach_sub(params, ema);
  at::_foreach_mul_(d, weight);
  at::_foreach_add_(ema, d);
#else
  for (size_t i = 0; i < ema.size(); ++i) ema[i].lerp_(params[i], weight);
#endif
}

namespace {

// The AdamParamState / AdamWParamState of `p` in `opt`, created as LibTorch's first step would
// when missing.
template <class State>
State& adam_state(torch::optim::Optimizer& opt, const torch::Tensor& p) {
  auto& state = opt.state();
  const auto key = state_key(state, p);
  auto it = state.find(key);
  if (it == state.end()) {
    auto st = std::make_unique<State>();
    st->step(0);
    st->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
    st->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
    it = state.emplace(key, std::move(st)).first;
  }
  return static_cast<State&>(*it->second);
}

}  // namespace

DeviceAdam::DeviceAdam(torch::optim::Optimizer& opt, int64_t slots) : opt_(opt), slots_(slots) {
  using torch::optim::Adam, torch::optim::AdamOptions, torch::optim::AdamParamState;
  using torch::optim::AdamW, torch::optim::AdamWOptions, torch::optim::AdamWParamState;
  const bool adam = dynamic_cast<Adam*>(&opt) != nullptr;
  decoupled_ = !adam && dynamic_cast<AdamW*>(&opt) != nullptr;
  RF_CHECK(adam || decoupled_, "DeviceAdam: the optimiser is neither Adam nor AdamW");
  RF_CHECK(slots >= 1, "DeviceAdam: slots must be >= 1");
  int64_t step = -1;
  for (auto& g : opt.param_groups()) {
    Group grp;
    auto read = [&](const auto& o) {
      RF_CHECK(!o.amsgrad(), "DeviceAdam: amsgrad is not supported");
      grp.lr = o.lr();
      grp.beta1 = std::get<0>(o.betas());
      grp.beta2 = std::get<1>(o.betas());
      grp.eps = o.eps();
      grp.weight_decay = o.weight_decay();
    };
    if (adam)
      read(static_cast<const AdamOptions&>(g.options()));
    else
      read(static_cast<const AdamWOptions&>(g.options()));
    for (auto& p : g.params()) {
      int64_t s = 0;
      if (adam) {
        auto& st = adam_state<AdamParamState>(opt, p);
        grp.avg.push_back(st.exp_avg());
        grp.avg_sq.push_back(st.exp_avg_sq());
        s = st.step();
      } else {
        auto& st = adam_state<AdamWParamState>(opt, p);
        grp.avg.push_back(st.exp_avg());
        grp.avg_sq.push_back(st.exp_avg_sq());
        s = st.step();
      }
      RF_CHECK(step < 0 || s == step, "DeviceAdam: parameters at different step counts");
      step = s;
      grp.params.push_back(p);
    }
    if (grp.params.empty()) continue;
    const auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(grp.params[0].device());
    grp.neg_step = torch::zeros({slots}, f32);
    grp.inv_sqrt_bc2 = torch::zeros({slots}, f32);
    grp.decay = torch::ones({slots}, f32);
    groups_.push_back(std::move(grp));
  }
  t_ = std::max<int64_t>(step, 0);
}

void DeviceAdam::prepare(double lr) {
  for (auto& g : groups_) {
    const double l = lr >= 0 ? lr : g.lr;
    for (int64_t i = 0; i < slots_; ++i) {
      const double t = static_cast<double>(t_ + i + 1);
      const double bc1 = 1 - std::pow(g.beta1, t), bc2 = 1 - std::pow(g.beta2, t);
      g.neg_step.select(0, i).fill_(-(l / bc1));
      g.inv_sqrt_bc2.select(0, i).fill_(1 / std::sqrt(bc2));
      if (decoupled_ && g.weight_decay != 0) g.decay.select(0, i).fill_(1 - l * g.weight_decay);
    }
  }
  t_ += slots_;
}

void DeviceAdam::apply(int64_t slot) {
  torch::NoGradGuard no_grad;
  for (auto& g : groups_) {
    std::vector<torch::Tensor> params, grads, avg, avg_sq;
    for (size_t i = 0; i < g.params.size(); ++i) {
      const torch::Tensor& grad = g.params[i].grad();
      if (!grad.defined()) continue;
      params.push_back(g.params[i]);
      grads.push_back(grad);
      avg.push_back(g.avg[i]);
      avg_sq.push_back(g.avg_sq[i]);
    }
    if (params.empty()) continue;
    if (g.weight_decay != 0) {
      if (decoupled_)
        foreach_mul_tensor(params, g.decay.select(0, slot));
      else
        grads = at::_foreach_add(grads, params, g.weight_decay);
    }
    std::vector<torch::Tensor> denom = update_moments(avg, avg_sq, grads, g.beta1, g.beta2);
    foreach_mul_tensor(denom, g.inv_sqrt_bc2.select(0, slot));
    at::_foreach_add_(denom, g.eps);
    std::vector<torch::Tensor> upd = at::_foreach_div(avg, denom);
    foreach_mul_tensor(upd, g.neg_step.select(0, slot));
    at::_foreach_add_(params, upd);
  }
}

void DeviceAdam::sync_state() {
  using torch::optim::AdamParamState, torch::optim::AdamWParamState;
  for (auto& g : groups_)
    for (auto& p : g.params) {
      if (decoupled_)
        adam_state<AdamWParamState>(opt_, p).step(t_);
      else
        adam_state<AdamParamState>(opt_, p).step(t_);
    }
}

// --- progress and loss checks -----------------------------------------------------------------

EpochProgress::EpochProgress(const std::string& label, int64_t total, int64_t done,
                             const Context& ctx)
    : progress_(label, static_cast<uint64_t>(std::max<int64_t>(total, 0)), "epochs", ctx.quiet) {
  progress_.set(static_cast<uint64_t>(std::max<int64_t>(done, 0)));
}

void EpochProgress::epoch_done(int64_t epoch,
                               const std::vector<std::pair<std::string, double>>& losses) {
  epoch_done(epoch, loss_note(losses));
}

void EpochProgress::epoch_done(int64_t epoch, const std::string& note) {
  progress_.note(note);
  progress_.set(static_cast<uint64_t>(epoch));
}

std::string loss_note(const std::vector<std::pair<std::string, double>>& losses) {
  std::string out;
  for (const auto& [name, v] : losses)
    out += fmt::format("{}{} {}", out.empty() ? "" : " ", name,
                       std::isfinite(v) ? fmt::format("{:.4g}", v) : format_double(v));
  return out;
}

void check_finite_losses(const std::string& method, int64_t epoch,
                         const std::vector<std::pair<std::string, double>>& losses,
                         const std::string& recovery) {
  for (const auto& [name, v] : losses) {
    if (std::isfinite(v)) continue;
    throw TrainingDiverged(fmt::format("{}: epoch {}: the {} loss is {} ({}); training stopped{}{}",
                                       method, epoch, name, format_double(v), loss_note(losses),
                                       recovery.empty() ? "" : ". ", recovery));
  }
}

// --- snapshots --------------------------------------------------------------------------------

namespace {

using StateMap = std::decay_t<decltype(std::declval<torch::optim::Optimizer&>().state())>;
using StateKey = StateMap::key_type;

std::unique_ptr<torch::optim::OptimizerParamState> deep_clone(
    const torch::optim::OptimizerParamState& s) {
  std::unique_ptr<torch::optim::OptimizerParamState> c = s.clone();
  auto copy = [](const torch::Tensor& t) { return t.defined() ? t.clone() : t; };
  if (auto* a = dynamic_cast<torch::optim::AdamParamState*>(c.get())) {
    a->exp_avg(copy(a->exp_avg()));
    a->exp_avg_sq(copy(a->exp_avg_sq()));
    a->max_exp_avg_sq(copy(a->max_exp_avg_sq()));
  } else if (auto* w = dynamic_cast<torch::optim::AdamWParamState*>(c.get())) {
    w->exp_avg(copy(w->exp_avg()));
    w->exp_avg_sq(copy(w->exp_avg_sq()));
    w->max_exp_avg_sq(copy(w->max_exp_avg_sq()));
  } else {
    RF_CHECK(false, "StateSnapshot supports Adam and AdamW optimisers only");
  }
  return c;
}

}  // namespace

struct StateSnapshot::OptState {
  std::vector<std::pair<StateKey, std::unique_ptr<torch::optim::OptimizerParamState>>> states;
};

void StateSnapshot::take(const std::vector<torch::nn::Module*>& modules,
                         const std::vector<torch::optim::Optimizer*>& optimizers) {
  torch::NoGradGuard no_grad;
  const bool fresh = tensors_.size() != modules.size();
  if (fresh) tensors_.assign(modules.size(), {});
  for (size_t m = 0; m < modules.size(); ++m) {
    std::vector<torch::Tensor> src = modules[m]->parameters();
    for (const auto& b : modules[m]->buffers()) src.push_back(b);
    auto& dst = tensors_[m];
    if (dst.size() != src.size()) {
      dst.clear();
      for (const auto& t : src) dst.push_back(t.detach().clone());
      continue;
    }
    for (size_t i = 0; i < src.size(); ++i) {
      if (dst[i].sizes() == src[i].sizes() && dst[i].device() == src[i].device())
        dst[i].copy_(src[i]);
      else
        dst[i] = src[i].detach().clone();
    }
  }
  opt_.clear();
  for (auto* o : optimizers) {
    auto s = std::make_shared<OptState>();
    for (const auto& kv : o->state()) s->states.emplace_back(kv.first, deep_clone(*kv.second));
    opt_.push_back(std::move(s));
  }
}

bool StateSnapshot::restore(const std::vector<torch::nn::Module*>& modules,
                            const std::vector<torch::optim::Optimizer*>& optimizers) const {
  if (tensors_.empty() || tensors_.size() != modules.size() || opt_.size() != optimizers.size())
    return false;
  torch::NoGradGuard no_grad;
  for (size_t m = 0; m < modules.size(); ++m) {
    std::vector<torch::Tensor> dst = modules[m]->parameters();
    for (const auto& b : modules[m]->buffers()) dst.push_back(b);
    RF_CHECK(dst.size() == tensors_[m].size(), "StateSnapshot: module {} changed shape", m);
    for (size_t i = 0; i < dst.size(); ++i) dst[i].copy_(tensors_[m][i]);
  }
  for (size_t k = 0; k < optimizers.size(); ++k) {
    auto& state = optimizers[k]->state();
    state.clear();
    for (const auto& [key, s] : opt_[k]->states) state[key] = deep_clone(*s);
  }
  return true;
}

// --- checkpoints ------------------------------------------------------------------------------

CheckpointHeader make_checkpoint_header(const std::string& method, const std::string& spec,
                                        const std::string& device, const Schema& schema,
                                        const std::vector<int64_t>& class_counts) {
  CheckpointHeader h;
  h.method = method;
  h.spec = spec;
  h.rareforge_version = RAREFORGE_VERSION;
  h.device = device;
  h.schema = schema;
  h.class_counts = class_counts;
  return h;
}

std::string make_payload(const NamedModules& modules, const NamedOptimizers& optimizers,
                         const nlohmann::json& meta) {
  torch::serialize::OutputArchive ar;
  for (const auto& [name, m] : modules) {
    torch::serialize::OutputArchive sub;
    m->save(sub);
    ar.write("module." + name, sub);
  }
  for (const auto& [name, o] : optimizers) {
    torch::serialize::OutputArchive sub;
    o->save(sub);
    ar.write("optimizer." + name, sub);
  }
  ar.write("meta", c10::IValue(meta.dump()));
  std::ostringstream os;
  ar.save_to(os);
  return os.str();
}

void write_checkpoint(const std::string& path, const CheckpointHeader& header,
                      const std::string& payload) {
  AtomicFile f(path);
  {
    std::ofstream out(f.temp_path(), std::ios::binary);
    if (!out.good()) throw Error(fmt::format("cannot write model file '{}'", path));
    out << checkpoint_header_line(header) << '\n';
    out.write(payload.data(), static_cast<std::streamsize>(payload.size()));
    out.close();
    if (out.fail()) throw Error(fmt::format("failed writing model file '{}' (disk full?)", path));
  }
  f.commit();
}

void write_checkpoint(const std::string& path, const CheckpointHeader& header,
                      const NamedModules& modules, const NamedOptimizers& optimizers,
                      const nlohmann::json& meta) {
  write_checkpoint(path, header, make_payload(modules, optimizers, meta));
}

CheckpointHeader read_checkpoint(const std::string& path, std::string* payload) {
  size_t off = 0;
  CheckpointHeader h = read_checkpoint_header(path, &off);
  std::ifstream in(path, std::ios::binary);
  RF_CHECK_INPUT(in.good(), "cannot open model file '{}'", path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string all = ss.str();
  RF_CHECK_INPUT(all.size() > off,
                 "model file '{}' has no model data after its header (truncated?)", path);
  *payload = all.substr(off);
  return h;
}

CheckpointReader::CheckpointReader(const std::string& path, const std::string& method,
                                   const torch::Device& device)
    : method_(method), path_(path), device_(device) {
  std::string payload;
  header_ = read_checkpoint(path, &payload);
  RF_CHECK_INPUT(header_.method == method, "model file '{}' holds a '{}' model, not {}", path,
                 header_.method, method);
  try {
    archive_.load_from(payload.data(), payload.size(), device_);
    c10::IValue v;
    archive_.read("meta", v);
    meta_ = nlohmann::json::parse(v.toStringRef());
  } catch (const c10::Error& e) {
    RF_THROW_INPUT("model file '{}' is corrupt or truncated (LibTorch: {})", path,
                   e.what_without_backtrace());
  } catch (const nlohmann::json::exception& e) {
    RF_THROW_INPUT("model file '{}' has malformed metadata ({})", path, e.what());
  }
}

void CheckpointReader::require_same_architecture(
    const std::vector<std::pair<std::string, bool>>& same) const {
  for (const auto& [key, equal] : same)
    RF_CHECK_INPUT(equal,
                   "{}: model file '{}' was built with another {} ({}); load it with its own "
                   "spec (rareforge sample --model reads it from the file)",
                   method_, path_, key, header_.spec);
}

void CheckpointReader::require_meta_format(const std::string& format, int version) const {
  bool ok = false;
  try {
    ok = meta_.at("format") == format && meta_.at("version").get<int>() <= version;
  } catch (const nlohmann::json::exception&) {
  }
  RF_CHECK_INPUT(ok, "{}: model file '{}' is not a {} model of a known version", method_, path_,
                 method_);
}

bool CheckpointReader::has_module(const std::string& name) {
  torch::serialize::InputArchive sub;
  return archive_.try_read("module." + name, sub);
}

bool CheckpointReader::has_optimizer(const std::string& name) {
  torch::serialize::InputArchive sub;
  return archive_.try_read("optimizer." + name, sub);
}

void CheckpointReader::load_module(const std::string& name, torch::nn::Module& module) {
  std::vector<std::vector<int64_t>> shapes;
  for (const auto& p : module.named_parameters()) shapes.push_back(p.value().sizes().vec());
  for (const auto& b : module.named_buffers()) shapes.push_back(b.value().sizes().vec());
  try {
    torch::serialize::InputArchive sub;
    RF_CHECK_INPUT(archive_.try_read("module." + name, sub), "model file '{}' has no module '{}'",
                   path_, name);
    module.load(sub);
  } catch (const c10::Error& e) {
    RF_THROW_INPUT(
        "model file '{}': module '{}' does not match this rareforge's model (LibTorch: "
        "{})",
        path_, name, e.what_without_backtrace());
  }
  size_t i = 0;
  for (const auto& p : module.named_parameters())
    RF_CHECK_INPUT(p.value().sizes().vec() == shapes[i++],
                   "model file '{}': module '{}' parameter '{}' has the wrong shape", path_, name,
                   p.key());
  for (const auto& b : module.named_buffers())
    RF_CHECK_INPUT(b.value().sizes().vec() == shapes[i++],
                   "model file '{}': module '{}' buffer '{}' has the wrong shape", path_, name,
                   b.key());
  module.to(device_);
}

void CheckpointReader::load_optimizer(const std::string& name, torch::optim::Optimizer& optimizer) {
  try {
    torch::serialize::InputArchive sub;
    RF_CHECK_INPUT(archive_.try_read("optimizer." + name, sub),
                   "model file '{}' has no optimiser state '{}'", path_, name);
    optimizer.load(sub);
  } catch (const c10::Error& e) {
    RF_THROW_INPUT("model file '{}': optimiser '{}' does not match the model (LibTorch: {})", path_,
                   name, e.what_without_backtrace());
  }
}

}  // namespace rareforge::generators
