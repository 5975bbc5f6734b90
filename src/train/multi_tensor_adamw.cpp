#include "multi_tensor_adamw.hpp"

#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <type_traits>

#include <torch/version.h>

#include "derm/core/error.hpp"

namespace derm {
namespace {

using torch::optim::AdamWOptions;
using torch::optim::AdamWParamState;

struct Lists {
  std::vector<torch::Tensor> params, grads, exp_avgs, exp_avg_sqs;
};

void require_no_amsgrad(const torch::optim::OptimizerParamGroup& group) {
  if (static_cast<const AdamWOptions&>(group.options()).amsgrad()) {
    throw Error("MultiTensorAdamW: amsgrad is not supported");
  }
}

// The key torch::optim::AdamW files a parameter's state under: the TensorImpl address, printed in older LibTorch.
template <typename Map>
typename Map::key_type state_key(const Map&, const torch::Tensor& p) {
  if constexpr (std::is_same_v<typename Map::key_type, std::string>) {
    std::ostringstream key;
    key << p.unsafeGetTensorImpl();
    return key.str();
  } else {
    return p.unsafeGetTensorImpl();
  }
}

// One AdamW step of parameters that all reach step count `step` with it.
void update(const Lists& l, std::int64_t step, const AdamWOptions& o) {
  const auto [beta1, beta2] = o.betas();
  // Compiled only against LibTorch >= 2.1, which has the fused CUDA kernel.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
  if (l.params.front().is_cuda()) {
    const auto steps = torch::full({}, static_cast<double>(step), l.params.front().options().dtype(torch::kFloat32));
    const std::vector<torch::Tensor> state_steps(l.params.size(), steps);
    at::_fused_adamw_(l.params, l.grads, l.exp_avgs, l.exp_avg_sqs, /*max_exp_avg_sqs=*/{}, state_steps, o.lr(), beta1,
                      beta2, o.weight_decay(), o.eps(), /*amsgrad=*/false, /*maximize=*/false);
    return;
  }
#endif
  const double bias_correction1 = 1 - std::pow(beta1, step);
  const double bias_correction2 = 1 - std::pow(beta2, step);
  if (o.weight_decay() != 0) at::_foreach_mul_(l.params, 1 - o.lr() * o.weight_decay());
  at::_foreach_mul_(l.exp_avgs, beta1);
  at::_foreach_add_(l.exp_avgs, l.grads, 1 - beta1);
  at::_foreach_mul_(l.exp_avg_sqs, beta2);
  at::_foreach_addcmul_(l.exp_avg_sqs, l.grads, l.grads, 1 - beta2);
  auto denoms = at::_foreach_sqrt(l.exp_avg_sqs);
  at::_foreach_div_(denoms, std::sqrt(bias_correction2));
  at::_foreach_add_(denoms, o.eps());
  at::_foreach_addcdiv_(l.params, l.exp_avgs, denoms, -o.lr() / bias_correction1);
}

}  // namespace

MultiTensorAdamW::MultiTensorAdamW(std::vector<torch::optim::OptimizerParamGroup> param_groups, AdamWOptions defaults)
    : AdamW(std::move(param_groups), std::move(defaults)) {
  for (const auto& group : param_groups_) require_no_amsgrad(group);
}

MultiTensorAdamW::MultiTensorAdamW(std::vector<torch::Tensor> params, AdamWOptions defaults)
    : MultiTensorAdamW({torch::optim::OptimizerParamGroup(std::move(params))}, std::move(defaults)) {}

torch::Tensor MultiTensorAdamW::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  for (auto& group : param_groups_) {
    require_no_amsgrad(group);
    std::map<std::int64_t, Lists> by_step;
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      auto& slot = state_[state_key(state_, p)];
      if (!slot) {
        auto fresh = std::make_unique<AdamWParamState>();
        fresh->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        fresh->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        slot = std::move(fresh);
      }
      auto& state = static_cast<AdamWParamState&>(*slot);
      state.step(state.step() + 1);
      auto& lists = by_step[state.step()];
      lists.params.push_back(p);
      lists.grads.push_back(p.grad());
      lists.exp_avgs.push_back(state.exp_avg());
      lists.exp_avg_sqs.push_back(state.exp_avg_sq());
    }
    for (const auto& [step, lists] : by_step) update(lists, step, static_cast<const AdamWOptions&>(group.options()));
  }
  return loss;
}

}  // namespace derm
