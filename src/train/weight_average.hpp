#pragma once
// An exponential moving average of a network's weights (Polyak averaging), which
// derm-train validates and saves instead of the last step's weights when
// --ema-decay is set. Parameters and floating-point buffers (BatchNorm's running
// statistics) are averaged; integer buffers are the network's own.
#include <cstdint>
#include <functional>

#include <torch/torch.h>

#include "derm/model/model_io.hpp"
#include "derm/model/state_dict.hpp"

namespace derm {

class WeightAverage {
 public:
  // The average starts as the network's weights, on their device and in their memory format.
  WeightAverage(torch::nn::Module& network, double decay);

  // After the optimizer's `step`-th step (1-based): average = d * average + (1 - d) * weights,
  // d = min(decay, (1 + step) / (10 + step)), so that early averages are not dominated by the start.
  void update(std::int64_t step);

  // Runs `use` with the averaged weights in the network, then puts its own back (also when `use` throws).
  void with_average_in(const std::function<void()>& use);

  // The averaged tensors under their state_dict names, for checkpoints (read and written in place).
  const NamedTensors& tensors() const { return average_; }

  double decay() const { return decay_; }

 private:
  double decay_;
  std::vector<torch::Tensor> live_;  // the network's tensors that are averaged
  NamedTensors average_;             // same order as live_
  std::vector<torch::Tensor> average_list_;
};

}  // namespace derm
