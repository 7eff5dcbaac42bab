#include "generators/cuda_graph.h"

#include <atomic>
#include <exception>
#include <optional>

#include <fmt/format.h>

#ifdef RAREFORGE_TORCH_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

#include "core/log.h"

namespace rareforge::generators {

namespace {
std::atomic<int64_t> g_replays{0};
}  // namespace

int64_t cuda_graph_replays() { return g_replays.load(); }

#ifdef RAREFORGE_TORCH_CUDA

bool cuda_graphs_built() { return true; }

struct StepGraph::Impl {
  bool enabled = false;
  c10::DeviceIndex device = 0;
  bool warmed = false;
  std::optional<c10::cuda::CUDAStream> side;  // warm-up and capture stream
  std::unique_ptr<at::cuda::CUDAGraph> graph;
  bool captured = false;
};

StepGraph::StepGraph(const torch::Device& device, bool enabled) : impl_(std::make_unique<Impl>()) {
  impl_->enabled = enabled && device.is_cuda();
  impl_->device = device.has_index() ? device.index() : 0;
}

StepGraph::~StepGraph() = default;

bool StepGraph::captured() const { return impl_->captured; }

void StepGraph::run(const std::function<void()>& step) {
  Impl& s = *impl_;
  if (!s.enabled) {
    step();
    return;
  }
  c10::cuda::CUDAGuard device_guard(s.device);
  if (s.captured) {
    s.graph->replay();
    ++g_replays;
    return;
  }
  // Warm-up and capture run on a side stream (capture needs a non-default stream; cuBLAS keeps a
  // workspace per stream, which the warm-up allocates outside the capture). The device
  // synchronisations order them against the caller's work on the default stream; they happen
  // twice per StepGraph.
  c10::cuda::device_synchronize();
  if (!s.side) s.side = c10::cuda::getStreamFromPool(false, s.device);
  std::string failure;
  {
    c10::cuda::CUDAStreamGuard stream_guard(*s.side);
    if (!s.warmed) {
      step();
      s.warmed = true;
      c10::cuda::device_synchronize();
      return;
    }
    s.graph = std::make_unique<at::cuda::CUDAGraph>();
    try {
      s.graph->capture_begin();
      try {
        step();
      } catch (...) {
        try {
          s.graph->capture_end();
        } catch (...) {
        }
        throw;
      }
      s.graph->capture_end();
    } catch (const c10::Error& e) {
      failure = e.what_without_backtrace();
    } catch (const std::exception& e) {
      failure = e.what();
    }
  }
  if (failure.empty()) {
    s.captured = true;
    s.graph->replay();
    ++g_replays;
    return;
  }
  // Nothing recorded has run (LibTorch's CUDA checks cleared the error): take the step eagerly.
  s.graph.reset();
  s.enabled = false;
  c10::cuda::device_synchronize();
  warn_once(fmt::format(
      "CUDA graph capture of the training step failed ({}); training continues without it "
      "(slower; cuda_graph=false in the spec skips the attempt)",
      failure.substr(0, failure.find('\n'))));
  step();
}

#else  // LibTorch without CUDA: every step is eager.

bool cuda_graphs_built() { return false; }

struct StepGraph::Impl {};

StepGraph::StepGraph(const torch::Device&, bool) : impl_(std::make_unique<Impl>()) {}
StepGraph::~StepGraph() = default;
bool StepGraph::captured() const { return false; }
void StepGraph::run(const std::function<void()>& step) { step(); }

#endif

void BatchStepGraphs::run(const torch::Tensor& idx,
                          const std::function<void(const torch::Tensor&)>& step) {
  if (!enabled_ || !device_.is_cuda() || !cuda_graphs_built()) {
    step(idx);
    return;
  }
  Entry& e = graphs_[idx.size(0)];
  if (!e.graph) {
    e.graph = std::make_unique<StepGraph>(device_, true);
    e.idx = torch::empty_like(idx);
  }
  e.idx.copy_(idx);
  const torch::Tensor& fixed = e.idx;
  e.graph->run([&] { step(fixed); });
}

}  // namespace rareforge::generators
