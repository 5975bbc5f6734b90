#include "derm/model/basic_conv2d.hpp"

#include <torch/version.h>

#include "derm/model/autocast.hpp"
#include "derm/model/batch_norm_sync.hpp"
#include "inference_convolution.hpp"

namespace derm {

using torch::nn::Conv2dOptions;

const torch::ExpandingArray<2>& explicit_padding(const torch::nn::detail::ConvNdOptions<2>& options) {
  // LibTorch's padding is a c10::variant before 2.1 and a std::variant from 2.1 on.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
  return std::get<torch::ExpandingArray<2>>(options.padding());
#else
  return c10::get<torch::ExpandingArray<2>>(options.padding());
#endif
}

BasicConv2dImpl::BasicConv2dImpl(const Conv2dOptions& options)
    : conv(register_module("conv", torch::nn::Conv2d(options))),
      bn(register_module("bn", torch::nn::BatchNorm2d(
                                   torch::nn::BatchNorm2dOptions(options.out_channels()).eps(0.001)))) {}

bool FoldedConvolution::pointwise() const {
  return weight.size(2) == 1 && weight.size(3) == 1 && stride == std::vector<int64_t>(2, 1) && groups == 1;
}

torch::Tensor FoldedConvolution::forward(const torch::Tensor& x) const {
  if (fused_relu && x.is_cuda() && x.scalar_type() == weight.scalar_type() && !autocast_enabled(x.device())) {
    return at::cudnn_convolution_relu(x, weight, bias, stride, padding, dilation, groups);
  }
  return inference_convolution(x, weight, bias, padding, stride, dilation, groups).relu_();
}

torch::Tensor BasicConv2dImpl::forward(const torch::Tensor& x) {
  if (folded_.defined() && !is_training()) return folded_.forward(x);
  if (is_training()) return batch_norm(bn, conv(x)).relu_();
  const auto& options = conv->options;
  return bn(inference_convolution(x, conv->weight, conv->bias, *explicit_padding(options), *options.stride(),
                                  *options.dilation(), options.groups()))
      .relu_();
}

std::pair<torch::Tensor, torch::Tensor> batch_norm_scale_and_shift(const torch::nn::BatchNorm2dImpl& bn) {
  torch::NoGradGuard no_grad;
  const auto scale = bn.weight.to(torch::kFloat64) / (bn.running_var.to(torch::kFloat64) + bn.options.eps()).sqrt();
  return {scale, bn.bias.to(torch::kFloat64) - bn.running_mean.to(torch::kFloat64) * scale};
}

FoldedConvolution BasicConv2dImpl::batch_norm_fold() const {
  torch::NoGradGuard no_grad;
  FoldedConvolution folded;
  const auto& w = conv->weight;
  const auto [scale, shift] = batch_norm_scale_and_shift(*bn);
  folded.weight = (w.to(torch::kFloat64) * scale.view({-1, 1, 1, 1}))
                      .to(w.scalar_type())
                      .contiguous(w.suggest_memory_format());
  folded.bias = shift.to(w.scalar_type());
  const auto& options = conv->options;
  folded.stride = std::vector<int64_t>(options.stride()->begin(), options.stride()->end());
  const auto& padding = explicit_padding(options);
  folded.padding = std::vector<int64_t>(padding->begin(), padding->end());
  folded.dilation = std::vector<int64_t>(options.dilation()->begin(), options.dilation()->end());
  folded.groups = options.groups();
  return folded;
}

void BasicConv2dImpl::fold_batch_norm(bool fused_relu) {
  folded_ = batch_norm_fold();
  folded_.fused_relu = fused_relu;
}

void BasicConv2dImpl::fold_average_pool() {
  TORCH_CHECK(folded_.defined(), "BasicConv2d::fold_average_pool: fold the BatchNorm first");
  TORCH_CHECK(folded_.pointwise(), "BasicConv2d::fold_average_pool: needs a 1x1 convolution of stride 1");
  torch::NoGradGuard no_grad;
  folded_.weight = (folded_.weight / 9.0).expand({-1, -1, 3, 3}).contiguous(folded_.weight.suggest_memory_format());
  folded_.padding = {1, 1};
  folded_.average_pool = true;
}

void BasicConv2dImpl::train(bool on) {
  if (on) folded_ = FoldedConvolution{};
  Module::train(on);
}

SiblingConvolutions::SiblingConvolutions(std::vector<BasicConv2d> members) : members_(std::move(members)) {}

void SiblingConvolutions::merge(bool fused_relu) {
  std::vector<torch::Tensor> weights, biases;
  merged_from_.clear();
  for (const auto& member : members_) {
    const auto& folded = member->folded();
    TORCH_CHECK(folded.defined(), "SiblingConvolutions::merge: a member is not folded");
    TORCH_CHECK(folded.pointwise(), "SiblingConvolutions::merge: members must be 1x1 convolutions of stride 1");
    weights.push_back(folded.weight);
    biases.push_back(folded.bias);
    merged_from_.push_back(folded.weight);
  }
  const auto& first = members_.front()->folded();
  merged_ = first;
  merged_.weight = torch::cat(weights).contiguous(first.weight.suggest_memory_format());
  merged_.bias = torch::cat(biases);
  merged_.fused_relu = fused_relu;
}

bool SiblingConvolutions::merged() const {
  if (!merged_.defined()) return false;
  for (std::size_t i = 0; i < members_.size(); ++i) {
    if (members_[i]->is_training() || !members_[i]->folded().weight.is_same(merged_from_[i])) return false;
  }
  return true;
}

std::vector<torch::Tensor> SiblingConvolutions::forward(const torch::Tensor& x) const {
  std::vector<torch::Tensor> outputs;
  if (!merged()) {
    for (const auto& member : members_) outputs.push_back(member.ptr()->forward(x));
    return outputs;
  }
  // N x (sum of the members' channels) x H x W
  const auto y = merged_.forward(x);
  int64_t start = 0;
  for (const auto& weight : merged_from_) {
    outputs.push_back(y.narrow(1, start, weight.size(0)));
    start += weight.size(0);
  }
  return outputs;
}

}  // namespace derm
