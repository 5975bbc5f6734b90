#pragma once
// A network call replayed as a CUDA graph. At batch 1 a GPU forward pass of
// Inception v3 is mostly the host launching its ~300 kernels one by one; a
// captured graph launches them all at once.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include <torch/torch.h>

namespace derm {

// Whether this build can capture CUDA graphs (it was built against a CUDA LibTorch).
bool cuda_graphs_built();

class GraphedForward {
 public:
  // `forward` must depend on nothing but its input and the network's state,
  // and must not wait on the host (no .item(), no copies to the CPU): it is
  // recorded once per input shape and replayed.
  using Function = std::function<torch::Tensor(const torch::Tensor&)>;

  // GPU memory for the recordings' intermediate results, which objects whose
  // calls never overlap (the members of one ensemble) may share: every replay
  // writes its intermediates before reading them, and its output is copied out
  // before the next replay.
  class Memory;
  static std::shared_ptr<Memory> new_memory();

  // use_graphs = false, a CPU input or a build without CUDA: plain calls.
  // Without `memory`, the object's recordings share memory of their own.
  GraphedForward(Function forward, bool use_graphs, std::shared_ptr<Memory> memory = nullptr);
  ~GraphedForward();
  GraphedForward(const GraphedForward&) = delete;
  GraphedForward& operator=(const GraphedForward&) = delete;

  // forward(input). On CUDA, the first call for an input's shape, dtype and
  // layout runs forward a few times (cuDNN and cuBLAS set themselves up) and
  // records it; every call copies the input into the recording's own input
  // and replays it. The result is a tensor of the caller's (a copy of the
  // recording's output), valid after later calls.
  torch::Tensor operator()(const torch::Tensor& input);

  // Recordings made so far (one per distinct input shape, dtype and layout).
  std::size_t recordings() const;

 private:
  struct Recording;
  // Records forward for inputs like `input`, filed under `key`.
  Recording& record(const torch::Tensor& input, const std::vector<std::int64_t>& key);
  Recording& record_or_explain(const torch::Tensor& input, const std::vector<std::int64_t>& key);  // as derm::Error

  Function forward_;
  bool use_graphs_;
  std::shared_ptr<Memory> memory_;
  std::map<std::vector<std::int64_t>, std::unique_ptr<Recording>> recordings_;
};

}  // namespace derm
