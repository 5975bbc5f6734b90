#include "weight_average.hpp"

#include <algorithm>

namespace derm {

WeightAverage::WeightAverage(torch::nn::Module& network, double decay) : decay_(decay) {
  torch::NoGradGuard no_grad;
  for (const auto& [name, tensor] : state_dict(network)) {
    if (!tensor.is_floating_point()) continue;
    live_.push_back(tensor);
    average_.emplace_back(name, tensor.detach().clone(torch::MemoryFormat::Preserve));
    average_list_.push_back(average_.back().second);
  }
}

void WeightAverage::update(std::int64_t step) {
  torch::NoGradGuard no_grad;
  const double d = std::min(decay_, (1.0 + static_cast<double>(step)) / (10.0 + static_cast<double>(step)));
  at::_foreach_mul_(average_list_, d);
  at::_foreach_add_(average_list_, live_, 1.0 - d);
}

void WeightAverage::with_average_in(const std::function<void()>& use) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> own;
  for (const auto& tensor : live_) own.push_back(tensor.detach().clone(torch::MemoryFormat::Preserve));
  struct Restore {
    std::vector<torch::Tensor>& live;
    std::vector<torch::Tensor>& own;
    ~Restore() {
      torch::NoGradGuard no_grad;
      for (std::size_t i = 0; i < live.size(); ++i) live[i].detach().copy_(own[i]);
    }
  } restore{live_, own};
  for (std::size_t i = 0; i < live_.size(); ++i) live_[i].detach().copy_(average_list_[i]);
  use();
}

}  // namespace derm
