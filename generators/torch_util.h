// Helpers shared by the deep generators (ctgan, tvae, ddpm). INTERNAL header: it includes
// LibTorch and is included only by generators/*.cpp (and the generator tests).
//
// Checkpoint file layout (core/generator.h, docs/GENERATORS.md "Checkpoints"):
//
//   line 1   checkpoint_header_line(header) '\n'       JSON, readable without LibTorch
//   rest     a torch::serialize::OutputArchive (zip) holding
//              "module.<name>"     each named module's parameters and buffers
//              "optimizer.<name>"  each named optimiser's state (Adam moments, step counts)
//              "meta"              a string: JSON with the generator's config, the transformer
//                                  (DataTransformer::to_json) and anything else it needs
//
// Files are written through core/io.h AtomicFile (a temporary name, then rename), so a failed
// save never leaves a half-written model. Loading maps every tensor to the requested device
// (a model trained on cuda:0 loads on the CPU and the other way round).
//
// Determinism: seed_torch() seeds LibTorch's global generators (CPU and every CUDA device)
// from a seed derived from Context::seed, so the same seed on the same device gives the same
// draws. The global generators are process-wide: generators are not safe to fit/sample from
// several threads at once.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/context.h"
#include "core/generator.h"
#include "core/params.h"
#include "core/progress.h"
#include "core/table.h"

namespace rareforge::generators {

// --- device, threads, seeds -----------------------------------------------------------------

/// The torch device for ctx.device (resolve_device: `auto` -> cuda:0 when present, else cpu;
/// InputError naming --device when a requested GPU is absent).
torch::Device torch_device(const Context& ctx);
/// "cpu", "cuda:0" — for the checkpoint header and messages.
std::string device_name(const torch::Device& d);
/// torch::set_num_threads(ctx.n_threads()) for CPU work.
void set_torch_threads(const Context& ctx);
/// Seed LibTorch's global generators (CPU and all CUDA devices) with `seed`.
void seed_torch(uint64_t seed);
/// Seed them from ctx: Rng::derive(ctx.rng(streams::kGenerator).next(), salt). Different salts
/// give independent streams for different phases (fit, sample) of one generator. Returns the seed.
uint64_t seed_torch(const Context& ctx, uint64_t salt);

// --- data -------------------------------------------------------------------------------------

/// Row-major double matrix -> contiguous float32 tensor [rows, cols] on `device`.
torch::Tensor to_device_float(const MatrixRM& m, const torch::Device& device);
/// Any 2-D tensor (any device, any floating dtype) -> MatrixRM of doubles.
MatrixRM to_matrix(const torch::Tensor& t);
/// Class codes -> int64 tensor on `device`.
torch::Tensor to_device_long(const std::vector<int32_t>& codes, const torch::Device& device);

/// Code of class `cls` in `schema`'s target, or InputError "<method>: unknown class 'x'; the
/// classes are: a, b" listing them.
int32_t class_code(const Schema& schema, const std::string& cls, const std::string& method);
/// Mark every row of `t` synthetic, made by `spec`, no parents (core/generator.h contract).
void set_synthetic_provenance(Table& t, const std::string& spec);

/// The inverse: {128, 128} -> "128-128".
std::string layer_widths_text(const std::vector<int64_t>& widths);

// --- optimiser steps --------------------------------------------------------------------------
//
// A small network's training step on a GPU is bound by the host: every LibTorch operator costs a
// few microseconds of dispatch and launch, whatever the tensor size. LibTorch's own Adam/AdamW
// step() runs about ten operators per parameter tensor; these helpers do the same arithmetic
// with the multi-tensor (_foreach) operators, a dozen calls per parameter group, which CUDA runs
// as a few fused kernels. (On a CPU the _foreach operators loop over the tensors: same cost.)

/// Drop every parameter's gradient (undefined, as zero_grad(set_to_none=true)): the next
/// backward writes fresh gradients, with no zero-fill and no accumulate step.
void drop_grads(torch::optim::Optimizer& opt);

/// One step of `opt`. For torch::optim::Adam and AdamW (amsgrad off) the _foreach path: the
/// arithmetic and the order of LibTorch's step(), bit for bit on the CPU, and the same state
/// (AdamParamState / AdamWParamState: step, exp_avg, exp_avg_sq), so checkpoints and
/// StateSnapshot are unchanged. Falls back to opt.step() where it does not apply: another
/// optimiser, amsgrad, the first step (which creates the state), or a parameter group whose
/// tensors lack a gradient or disagree on the step count.
void optimizer_step(torch::optim::Optimizer& opt);

/// ema[i].lerp_(params[i], weight) for every i (the EMA of weights); one _foreach_lerp_ call on
/// LibTorch 2.x, a loop on 1.13 (which has no _foreach_lerp_); the same values either way.
void ema_update(const std::vector<torch::Tensor>& ema, const std::vector<torch::Tensor>& params,
                double weight);

/// ema[i] += weight * (params[i] - ema[i]) with `weight` a 0-dim device tensor (filled before
/// each step, so the update can be captured in a CUDA graph). Three _foreach calls on LibTorch
/// >= 2.1, a lerp_ loop before. Agrees with the double-weight form up to float rounding.
void ema_update(const std::vector<torch::Tensor>& ema, const std::vector<torch::Tensor>& params,
                const torch::Tensor& weight);

/// Adam / AdamW (amsgrad off) whose time-varying factors (bias corrections, learning rate,
/// AdamW's decay factor) live in device tensors, so that apply() reads no host value that
/// changes between steps and can be captured in a CUDA graph (generators/cuda_graph.h). The
/// generators use it on CUDA devices; the CPU keeps optimizer_step (LibTorch's arithmetic bit
/// for bit). Same arithmetic as LibTorch's step except the float rounding of those factors and
/// the update p += (-lr / bc1) * (m / denom) done as a multiply and an add.
/// It works on the optimiser's own state objects (AdamParamState / AdamWParamState), creating
/// missing ones as LibTorch's first step would (zero moments, step 0), so checkpoints and
/// StateSnapshot are unchanged once sync_state() has written the step count back.
class DeviceAdam {
 public:
  /// `slots`: updates per prepare() (ctgan runs `discriminator_steps` discriminator updates in
  /// one step); the factors of each are kept apart.
  explicit DeviceAdam(torch::optim::Optimizer& opt, int64_t slots = 1);
  /// Host side, before each training step (outside any graph): advance the step count by
  /// `slots` and fill the factors for those updates at learning rate `lr` (the parameter
  /// groups' own lr when negative).
  void prepare(double lr = -1);
  /// Update number `slot` of the prepared ones, from the parameters' current gradients
  /// (parameters without a gradient are skipped). Capturable.
  void apply(int64_t slot = 0);
  /// Write the step count into the optimiser's state objects (before a save or a snapshot).
  void sync_state();
  int64_t step_count() const { return t_; }

 private:
  struct Group {
    std::vector<torch::Tensor> params, avg, avg_sq;
    double lr, beta1, beta2, eps, weight_decay;
    torch::Tensor neg_step, inv_sqrt_bc2, decay;  // [slots] float32 on the device
  };
  torch::optim::Optimizer& opt_;
  bool decoupled_ = false;  // AdamW
  int64_t slots_;
  int64_t t_ = 0;  // updates prepared so far
  std::vector<Group> groups_;
};

// --- progress and loss checks -----------------------------------------------------------------

/// Per-epoch progress on stderr with ETA (core/progress.h), e.g.
///   "tvae fit  12/300 epochs  4%  3.1 s elapsed, ETA 1 min 14 s  loss 1.234 kl 0.456".
class EpochProgress {
 public:
  /// `done` epochs already finished (resume), `total` the epoch count at the end.
  EpochProgress(const std::string& label, int64_t total, int64_t done, const Context& ctx);
  /// Epoch `epoch` (1-based, counted from the first run) finished with these losses.
  void epoch_done(int64_t epoch, const std::vector<std::pair<std::string, double>>& losses);
  void epoch_done(int64_t epoch, const std::string& note);
  void finish() { progress_.finish(); }
  double elapsed_seconds() const { return progress_.elapsed_seconds(); }

 private:
  Progress progress_;
};

/// "loss 1.234 kl 0.456" (4 significant digits).
std::string loss_note(const std::vector<std::pair<std::string, double>>& losses);

/// Throws TrainingDiverged "<method>: epoch E: the <name> loss is nan; training stopped ..." when
/// any loss is NaN or Inf. `recovery` is appended (e.g. what state the object keeps, what to try).
void check_finite_losses(const std::string& method, int64_t epoch,
                         const std::vector<std::pair<std::string, double>>& losses,
                         const std::string& recovery = "");

/// A device-side copy of modules' parameters and buffers and of Adam/AdamW optimiser state,
/// taken after each good epoch (no host round trip) and put back when a later epoch fails.
class StateSnapshot {
 public:
  void take(const std::vector<torch::nn::Module*>& modules,
            const std::vector<torch::optim::Optimizer*>& optimizers);
  /// Put the copy back into the same objects; false if nothing was taken.
  bool restore(const std::vector<torch::nn::Module*>& modules,
               const std::vector<torch::optim::Optimizer*>& optimizers) const;
  bool empty() const { return tensors_.empty(); }

 private:
  std::vector<std::vector<torch::Tensor>> tensors_;  // per module: parameters, then buffers
  struct OptState;
  std::vector<std::shared_ptr<OptState>> opt_;
};

// --- checkpoints ------------------------------------------------------------------------------

using NamedModules = std::vector<std::pair<std::string, const torch::nn::Module*>>;
using NamedOptimizers = std::vector<std::pair<std::string, const torch::optim::Optimizer*>>;

/// A header for `method` with the rareforge version filled in.
CheckpointHeader make_checkpoint_header(const std::string& method, const std::string& spec,
                                        const std::string& device, const Schema& schema,
                                        const std::vector<int64_t>& class_counts);

/// The archive bytes for the layout above.
std::string make_payload(const NamedModules& modules, const NamedOptimizers& optimizers,
                         const nlohmann::json& meta);
/// Write header line + payload atomically (Error naming the file on failure).
void write_checkpoint(const std::string& path, const CheckpointHeader& header,
                      const std::string& payload);
/// make_payload + write_checkpoint.
void write_checkpoint(const std::string& path, const CheckpointHeader& header,
                      const NamedModules& modules, const NamedOptimizers& optimizers,
                      const nlohmann::json& meta);
/// Read the header (InputError for a missing / foreign / newer file) and the payload bytes.
CheckpointHeader read_checkpoint(const std::string& path, std::string* payload);

/// The payload of a checkpoint, opened with every tensor mapped to `device`.
class CheckpointReader {
 public:
  /// Opens `path` (InputError naming the file for a missing, foreign or corrupt file); checks
  /// that the header's method is `method`.
  CheckpointReader(const std::string& path, const std::string& method, const torch::Device& device);
  const CheckpointHeader& header() const { return header_; }
  /// The "meta" JSON.
  const nlohmann::json& meta() const { return meta_; }
  /// Load module `name` into `module` (which must have the saved architecture; InputError
  /// naming the file otherwise) and move it to the device.
  void load_module(const std::string& name, torch::nn::Module& module);
  /// Load optimiser `name`'s state into `optimizer` (built over the loaded module's parameters).
  void load_optimizer(const std::string& name, torch::optim::Optimizer& optimizer);
  /// True if the archive holds module / optimiser `name`.
  bool has_module(const std::string& name);
  bool has_optimizer(const std::string& name);
  /// InputError unless every entry is true: {parameter, saved value == this object's}, for the
  /// parameters that shape the networks (the loading object must be built from the file's spec).
  void require_same_architecture(const std::vector<std::pair<std::string, bool>>& same) const;
  /// InputError unless the meta JSON's "format" is `format` and its "version" at most `version`.
  void require_meta_format(const std::string& format, int version) const;

 private:
  std::string method_;
  std::string path_;
  torch::Device device_;
  CheckpointHeader header_;
  nlohmann::json meta_;
  torch::serialize::InputArchive archive_;
};

}  // namespace rareforge::generators
