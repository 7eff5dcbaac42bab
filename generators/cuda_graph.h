// A training step captured once as a CUDA graph and replayed. INTERNAL header: it includes
// LibTorch and is included only by generators/*.cpp (and the generator tests).
//
// Why: the deep generators' networks are small, so on a GPU a training step is bound by the
// host (a few microseconds to dispatch and launch each of a thousand or more LibTorch operators)
// and the GPU idles. A CUDA graph records the step's kernels once; each later step is one
// graph launch, with no per-operator host work.
//
// What a step may do, to be captured:
//   * read and write only tensors that live for the whole run (parameters, optimiser state,
//     accumulators, the static inputs the caller refreshes before each run) — anything the step
//     allocates belongs to the graph's private memory pool and is rewritten by every replay;
//   * draw random numbers only from LibTorch's default CUDA generator (seed_torch seeds it): the
//     graph advances the generator's offset on each replay as eager code would;
//   * no host synchronisation (.item(), .cpu(), data-dependent shapes), and no host-side value
//     that changes between steps (learning rates, bias corrections: DeviceAdam keeps those in
//     device tensors, filled before each run).
// Host-side effects inside the step (dropping gradients, counters) happen at capture only.
//
// Sequence: the first run() is an eager step on a side stream (it warms up cuBLAS and the
// allocator outside the capture), the second captures the step and replays it, every later one
// replays. Each run() performs exactly one step. If capture fails (a LibTorch built without CUDA
// graphs, an operator that cannot be captured), run() warns once and stays eager.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>

namespace rareforge::generators {

/// True if this build links a LibTorch with CUDA and was compiled with CUDA-graph support.
bool cuda_graphs_built();

/// Replays performed by every StepGraph of this process (tests check that graphs ran).
int64_t cuda_graph_replays();

class StepGraph {
 public:
  /// Captures on `device` when `enabled`, `device` is a CUDA device and cuda_graphs_built();
  /// otherwise run() just calls the step.
  StepGraph(const torch::Device& device, bool enabled);
  ~StepGraph();
  StepGraph(const StepGraph&) = delete;
  StepGraph& operator=(const StepGraph&) = delete;

  /// One training step: eager, or captured and replayed (see the file comment).
  void run(const std::function<void()>& step);
  /// True once the step is captured (later runs replay it).
  bool captured() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// One StepGraph per batch size, each with its own static index tensor: run(idx, step) copies
/// `idx` (the batch's row indices, int64 on the device) into the static tensor for idx.size(0)
/// and runs step(static_idx). Disabled: step(idx).
class BatchStepGraphs {
 public:
  BatchStepGraphs(const torch::Device& device, bool enabled) : device_(device), enabled_(enabled) {}
  void run(const torch::Tensor& idx, const std::function<void(const torch::Tensor&)>& step);

 private:
  struct Entry {
    std::unique_ptr<StepGraph> graph;
    torch::Tensor idx;
  };
  torch::Device device_;
  bool enabled_;
  std::map<int64_t, Entry> graphs_;
};

}  // namespace rareforge::generators
