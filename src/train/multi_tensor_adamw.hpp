#pragma once
// torch::optim::AdamW with step() done by multi-tensor kernels: one set of launches per (parameter group, step count)
// instead of several per parameter. Same maths, same state and the same save()/load() format as AdamW.
#include <vector>

#include <torch/torch.h>

namespace derm {

class MultiTensorAdamW : public torch::optim::AdamW {
 public:
  // amsgrad is not supported: a derm::Error.
  explicit MultiTensorAdamW(std::vector<torch::optim::OptimizerParamGroup> param_groups,
                            torch::optim::AdamWOptions defaults = {});
  explicit MultiTensorAdamW(std::vector<torch::Tensor> params, torch::optim::AdamWOptions defaults = {});

  torch::Tensor step(LossClosure closure = nullptr) override;
};

}  // namespace derm
