#pragma once
// Inception v3 with the parameter and buffer names, shapes and numerics of
// torchvision's inception_v3, so that torchvision state_dicts map one to one,
// plus an optional learned-resizer stem that lets the network read images
// larger than the backbone's 299x299 (e.g. 700x700 dermoscopy images).
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "derm/model/basic_conv2d.hpp"
#include "derm/model/learned_resizer.hpp"

namespace derm {

class CpuInferencePlans;

struct InceptionAImpl : torch::nn::Module {
  InceptionAImpl(int64_t in_channels, int64_t pool_features);
  torch::Tensor forward(const torch::Tensor& x);

  BasicConv2d branch1x1, branch5x5_1, branch5x5_2, branch3x3dbl_1, branch3x3dbl_2,
      branch3x3dbl_3, branch_pool;
  SiblingConvolutions input_convolutions;  // branch1x1, branch5x5_1, branch3x3dbl_1
};
TORCH_MODULE(InceptionA);

struct InceptionBImpl : torch::nn::Module {
  explicit InceptionBImpl(int64_t in_channels);
  torch::Tensor forward(const torch::Tensor& x);

  BasicConv2d branch3x3, branch3x3dbl_1, branch3x3dbl_2, branch3x3dbl_3;
};
TORCH_MODULE(InceptionB);

struct InceptionCImpl : torch::nn::Module {
  InceptionCImpl(int64_t in_channels, int64_t channels_7x7);
  torch::Tensor forward(const torch::Tensor& x);

  BasicConv2d branch1x1, branch7x7_1, branch7x7_2, branch7x7_3, branch7x7dbl_1, branch7x7dbl_2,
      branch7x7dbl_3, branch7x7dbl_4, branch7x7dbl_5, branch_pool;
  SiblingConvolutions input_convolutions;  // branch1x1, branch7x7_1, branch7x7dbl_1
};
TORCH_MODULE(InceptionC);

struct InceptionDImpl : torch::nn::Module {
  explicit InceptionDImpl(int64_t in_channels);
  torch::Tensor forward(const torch::Tensor& x);

  BasicConv2d branch3x3_1, branch3x3_2, branch7x7x3_1, branch7x7x3_2, branch7x7x3_3,
      branch7x7x3_4;
  SiblingConvolutions input_convolutions;  // branch3x3_1, branch7x7x3_1
};
TORCH_MODULE(InceptionD);

struct InceptionEImpl : torch::nn::Module {
  explicit InceptionEImpl(int64_t in_channels);
  torch::Tensor forward(const torch::Tensor& x);

  BasicConv2d branch1x1, branch3x3_1, branch3x3_2a, branch3x3_2b, branch3x3dbl_1,
      branch3x3dbl_2, branch3x3dbl_3a, branch3x3dbl_3b, branch_pool;
  SiblingConvolutions input_convolutions;  // branch1x1, branch3x3_1, branch3x3dbl_1
};
TORCH_MODULE(InceptionE);

struct InceptionAuxImpl : torch::nn::Module {
  InceptionAuxImpl(int64_t in_channels, int64_t num_classes);
  torch::Tensor forward(const torch::Tensor& x);

  BasicConv2d conv0, conv1;
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(InceptionAux);

struct InceptionV3Options {
  int64_t num_classes = 1000;
  bool aux_logits = true;
  // Maps ImageNet-normalised input to the (x - 0.5) / 0.5 range the original
  // Google weights expect, as torchvision does for IMAGENET1K_V1.
  bool transform_input = false;
  double dropout = 0.5;
  int64_t input_size = 299;     // side of the square images given to forward
  int64_t backbone_size = 299;  // the stem resizes input_size to this; none when equal
  int64_t stem_channels = 16;
  // torchvision's weight initialisation; off when weights are loaded right after.
  bool initialise_weights = true;

  bool has_stem() const { return input_size != backbone_size; }
};

// What InceptionV3Impl::fold_batch_norm does besides folding. The defaults are
// derm-classify's: all off until a GPU run has timed them (bench/gpu/README.md).
struct FoldOptions {
  // Each block's 1x1 convolutions that read its input run as one
  // (SiblingConvolutions): 19 convolutions and ReLUs fewer per forward.
  bool merge_siblings = false;
  // Convolution, bias and ReLU as one cuDNN call (FoldedConvolution::fused_relu).
  bool fused_relu = false;
  // Each block's average pool folded into the branch_pool convolution it feeds
  // (BasicConv2dImpl::fold_average_pool): 9 pooling kernels fewer per forward.
  bool average_pools = false;
};

struct InceptionV3Output {
  torch::Tensor logits;
  torch::Tensor aux_logits;  // undefined unless training with aux_logits
  torch::Tensor kept;        // the output of the layer forward_with_aux was asked to keep
};

struct InceptionV3Impl : torch::nn::Module {
  explicit InceptionV3Impl(const InceptionV3Options& options = {});

  // x: N x 3 x H x W, ImageNet-normalised RGB -> N x num_classes logits.
  torch::Tensor forward(torch::Tensor x);
  // As forward, plus the auxiliary classifier's logits in training mode and
  // the output of layer `keep` (one of layer_names(), e.g. "Mixed_7c"), e.g. for Grad-CAM.
  InceptionV3Output forward_with_aux(torch::Tensor x, const std::string& keep = {});
  // The layers forward_with_aux can keep, in order: "stem" when there is one,
  // the convolutions from Conv2d_1a_3x3, the Inception blocks to Mixed_7c.
  std::vector<std::string> layer_names() const;

  // The parameters of the classification heads (fc and AuxLogits.fc).
  std::vector<torch::Tensor> head_parameters();
  // Folds every BasicConv2d's BatchNorm into its convolution (see
  // BasicConv2dImpl::fold_batch_norm): fewer kernels per forward in eval mode.
  void fold_batch_norm(const FoldOptions& fold = {});
  // Whether inference (derm::Classifier) folds on `device`: on CUDA only (on
  // the CPU the gain was measured small).
  static bool inference_folds_batch_norm(const torch::Device& device) { return device.is_cuda(); }

  // CPU inference: in eval mode without gradients, for float32 CPU input and
  // weights with no layer kept, forward runs a plan of oneDNN primitives made
  // once per input size (src/model/cpu_inference_plan.hpp: BatchNorm folded,
  // ReLU fused, weights packed once) instead of LibTorch's operators. The same
  // function to float32 rounding; false: LibTorch's operators.
  bool cpu_inference_plans = true;
  // Whether this build has the plans (oneDNN's headers were found).
  static bool cpu_inference_plans_built();
  // Makes the plan for H x W inputs now and runs it once, so that a model
  // loaded for inference does not pay for it on its first image.
  void prepare_cpu_inference(int64_t height, int64_t width);
  // The plans made so far (for tests and benchmarks); null before the first.
  const CpuInferencePlans* cpu_plans() const { return cpu_plans_.get(); }

  InceptionV3Options options;
  LearnedResizer stem{nullptr};
  BasicConv2d Conv2d_1a_3x3{nullptr}, Conv2d_2a_3x3{nullptr}, Conv2d_2b_3x3{nullptr},
      Conv2d_3b_1x1{nullptr}, Conv2d_4a_3x3{nullptr};
  InceptionA Mixed_5b{nullptr}, Mixed_5c{nullptr}, Mixed_5d{nullptr};
  InceptionB Mixed_6a{nullptr};
  InceptionC Mixed_6b{nullptr}, Mixed_6c{nullptr}, Mixed_6d{nullptr}, Mixed_6e{nullptr};
  InceptionAux AuxLogits{nullptr};
  InceptionD Mixed_7a{nullptr};
  InceptionE Mixed_7b{nullptr}, Mixed_7c{nullptr};
  torch::nn::Dropout dropout{nullptr};
  torch::nn::Linear fc{nullptr};

 private:
  // Eval mode, plans on and built, float32 CPU weights: what both prepare and forward need.
  bool plans_cpu_inference() const;
  bool runs_cpu_plan(const torch::Tensor& x) const;
  CpuInferencePlans& cpu_plans_made();
  std::shared_ptr<CpuInferencePlans> cpu_plans_;
};
TORCH_MODULE(InceptionV3);

}  // namespace derm
