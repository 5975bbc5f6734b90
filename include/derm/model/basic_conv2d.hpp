#pragma once
// Inception v3's convolution unit (convolution, BatchNorm, ReLU) as torchvision
// names it, and its inference form with the BatchNorm folded into the convolution.
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace derm {

// A Conv2d's padding when given as numbers (not "same" or "valid").
const torch::ExpandingArray<2>& explicit_padding(const torch::nn::detail::ConvNdOptions<2>& options);

// An eval-mode BatchNorm as the per-channel affine map it is, y = scale * x +
// shift, computed in float64 (so that folding it adds no rounding beyond the final cast).
std::pair<torch::Tensor, torch::Tensor> batch_norm_scale_and_shift(const torch::nn::BatchNorm2dImpl& bn);

// A convolution with its BatchNorm folded in, followed by ReLU (inference).
struct FoldedConvolution {
  torch::Tensor weight, bias;
  std::vector<int64_t> stride, padding, dilation;
  int64_t groups = 1;
  // On CUDA, for inputs of the weight's dtype outside autocast: convolution,
  // bias and ReLU as one cuDNN call (at::cudnn_convolution_relu).
  bool fused_relu = false;
  // The 3x3 average pool (stride 1, padding 1, zeros counted) that fed the
  // convolution is folded in: a 3x3 convolution of weight / 9 at every tap.
  bool average_pool = false;

  bool defined() const { return weight.defined(); }
  // A 1x1 convolution of stride 1 without groups.
  bool pointwise() const;
  torch::Tensor forward(const torch::Tensor& x) const;
};

struct BasicConv2dImpl : torch::nn::Module {
  explicit BasicConv2dImpl(const torch::nn::Conv2dOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

  // Inference: folds bn (running statistics and affine) into one convolution
  // with bias, which forward uses while the module is in eval mode. The fold is
  // not part of the state_dict; train(true) drops it, and weights changed after
  // folding are not seen until the next fold.
  void fold_batch_norm(bool fused_relu = false);
  // That fold, made now from the current weights and returned, not kept.
  FoldedConvolution batch_norm_fold() const;
  bool batch_norm_folded() const { return folded_.defined(); }
  // After fold_batch_norm, for a 1x1 convolution fed by avg_pool2d(3, stride 1,
  // padding 1): folds that pool in, so forward reads the pool's input instead
  // (one kernel instead of two) while average_pool_folded().
  void fold_average_pool();
  bool average_pool_folded() const { return folded_.average_pool && !is_training(); }
  const FoldedConvolution& folded() const { return folded_; }
  void train(bool on = true) override;

  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};

 private:
  FoldedConvolution folded_;
};
TORCH_MODULE(BasicConv2d);

// Inference: the folded 1x1 convolutions of an Inception block that read the
// block's input, run as one convolution whose output is split per branch
// (fewer and larger kernels; each output channel is the same sum as before).
class SiblingConvolutions {
 public:
  explicit SiblingConvolutions(std::vector<BasicConv2d> members);
  // Concatenates the members' folds; each member must be folded.
  void merge(bool fused_relu);
  // Whether forward runs merged: in eval mode, while every member keeps the
  // fold it had at merge() (train(true) and refolding end the merge).
  bool merged() const;
  // The members' outputs for x, in the constructor's order.
  std::vector<torch::Tensor> forward(const torch::Tensor& x) const;

 private:
  std::vector<BasicConv2d> members_;
  std::vector<torch::Tensor> merged_from_;  // the members' folded weights at merge()
  FoldedConvolution merged_;
};

}  // namespace derm
