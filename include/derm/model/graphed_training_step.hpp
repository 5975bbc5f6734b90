#pragma once
// The gradient computation of a training step (forward, loss, backward)
// recorded once as a CUDA graph and replayed; the optimizer steps outside it.
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <torch/torch.h>

namespace derm {

class GraphedTrainingStep {
 public:
  // Computes the loss of a batch, calls backward on it and returns it
  // (detached). It must depend on nothing but its inputs and the network's
  // state, and must not wait on the host: it is recorded once and replayed.
  using Function = std::function<torch::Tensor(const torch::Tensor& x, const torch::Tensor& y)>;

  // The gradients of `parameters` are what the step leaves behind. With
  // use_graphs false, CPU inputs or a build without CUDA every call is plain.
  // On CUDA the first `plain_steps` calls run plainly on the recording's
  // stream (cuDNN and cuBLAS set themselves up), the next one is recorded.
  GraphedTrainingStep(Function step, std::vector<torch::Tensor> parameters, bool use_graphs, int plain_steps = 3);
  ~GraphedTrainingStep();
  GraphedTrainingStep(const GraphedTrainingStep&) = delete;
  GraphedTrainingStep& operator=(const GraphedTrainingStep&) = delete;

  // The loss of (x, y), with the gradients of this batch alone in the
  // parameters' .grad (the callers must not reset them: a replay writes them
  // where the recording put them). The loss is the caller's tensor.
  torch::Tensor operator()(const torch::Tensor& x, const torch::Tensor& y);

  // Whether calls now replay a recording.
  bool replaying() const;

 private:
  struct Recording;
  torch::Tensor plain_step(const torch::Tensor& x, const torch::Tensor& y);
  torch::Tensor record(const torch::Tensor& x, const torch::Tensor& y);

  Function step_;
  std::vector<torch::Tensor> parameters_;
  bool use_graphs_;
  int plain_steps_;
  int plain_steps_done_ = 0;
  std::unique_ptr<Recording> recording_;
};

}  // namespace derm
