#include "derm/model/graphed_training_step.hpp"

#include <string>
#include <utility>

#include "cuda_recording.hpp"
#include "derm/core/error.hpp"
#include "derm/model/graphed_forward.hpp"

#if DERM_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace derm {

GraphedTrainingStep::GraphedTrainingStep(Function step, std::vector<torch::Tensor> parameters, bool use_graphs,
                                         int plain_steps)
    : step_(std::move(step)),
      parameters_(std::move(parameters)),
      use_graphs_(use_graphs && cuda_graphs_built()),
      plain_steps_(plain_steps) {
  // Plain steps create cuDNN's and cuBLAS's handles and workspaces, which a recording must not.
  TORCH_CHECK(plain_steps >= 1, "GraphedTrainingStep: at least one plain step must come before recording");
}

GraphedTrainingStep::~GraphedTrainingStep() = default;

torch::Tensor GraphedTrainingStep::plain_step(const torch::Tensor& x, const torch::Tensor& y) {
  for (auto& p : parameters_) p.mutable_grad() = torch::Tensor();
  return step_(x, y);
}

#if DERM_WITH_CUDA

struct GraphedTrainingStep::Recording {
  explicit Recording(c10::cuda::CUDAStream stream) : stream(stream) {}
  c10::cuda::CUDAStream stream;  // the plain steps' and the recording's
  at::cuda::CUDAGraph graph;
  bool recorded = false;
  torch::Tensor x, y, loss;  // the recording's inputs and output
  std::vector<const void*> addresses;  // each parameter's data and gradient's, as recorded
};

namespace {

// Where the parameters' data and gradients live: a replay reads and writes
// these addresses, whatever tensors the parameters hold now.
std::vector<const void*> addresses_of(const std::vector<torch::Tensor>& parameters) {
  std::vector<const void*> addresses;
  for (const auto& p : parameters) {
    addresses.push_back(p.data_ptr());
    addresses.push_back(p.grad().defined() ? p.grad().data_ptr() : nullptr);
  }
  return addresses;
}

}  // namespace

bool GraphedTrainingStep::replaying() const { return recording_ && recording_->recorded; }

torch::Tensor GraphedTrainingStep::record(const torch::Tensor& x, const torch::Tensor& y) {
  Recording& r = *recording_;
  r.x = torch::empty_like(x, x.suggest_memory_format());
  r.x.copy_(x);
  r.y = torch::empty_like(y);
  r.y.copy_(y);
  // Without gradients, backward puts them in the recording's memory, where
  // every replay writes them again.
  for (auto& p : parameters_) p.mutable_grad() = torch::Tensor();
  c10::cuda::device_synchronize();
  try {
    const c10::cuda::CUDAStreamGuard stream_guard(r.stream);
    const AutocastCacheOff no_cache;
    record_graph(r.graph, recording_, [&] { r.loss = step_(r.x, r.y); });
  } catch (const c10::Error& e) {
    throw Error(std::string("recording the training step as a CUDA graph failed (") + e.what_without_backtrace() +
                "); train without CUDA graphs (cuda_graphs off)");
  }
  c10::cuda::device_synchronize();
  // The plain steps' activations stay cached by the allocator; the recording
  // has memory of its own.
  c10::cuda::CUDACachingAllocator::emptyCache();
  r.recorded = true;
  r.addresses = addresses_of(parameters_);
  // Recording ran nothing: this replay is the step.
  r.graph.replay();
  return r.loss.clone();
}

torch::Tensor GraphedTrainingStep::operator()(const torch::Tensor& x, const torch::Tensor& y) {
  if (!use_graphs_ || !x.is_cuda()) return plain_step(x, y);
  if (replaying()) {
    Recording& r = *recording_;
    if (x.sizes() != r.x.sizes() || y.sizes() != r.y.sizes()) {
      throw Error("CUDA graph training step: the batch shape changed after recording");
    }
    if (addresses_of(parameters_) != r.addresses) {
      throw Error("CUDA graph training step: a parameter or its gradient was replaced after recording "
                  "(weights reloaded or gradients reset), so a replay would not reach it");
    }
    r.x.copy_(x);
    r.y.copy_(y);
    r.graph.replay();
    return r.loss.clone();
  }
  const c10::cuda::CUDAGuard device_guard(x.device());
  if (!recording_) recording_ = std::make_unique<Recording>(at::cuda::getStreamFromPool(false, x.device().index()));
  if (plain_steps_done_ >= plain_steps_) return record(x, y);
  ++plain_steps_done_;
  // On the recording's stream, fenced from the surrounding work on the current one.
  c10::cuda::device_synchronize();
  torch::Tensor loss;
  {
    const c10::cuda::CUDAStreamGuard stream_guard(recording_->stream);
    loss = plain_step(x, y);
  }
  c10::cuda::device_synchronize();
  return loss;
}

#else

struct GraphedTrainingStep::Recording {};

bool GraphedTrainingStep::replaying() const { return false; }

torch::Tensor GraphedTrainingStep::operator()(const torch::Tensor& x, const torch::Tensor& y) { return plain_step(x, y); }

#endif

}  // namespace derm
