#include "derm/model/learned_resizer.hpp"

#include "derm/model/batch_norm_sync.hpp"
#include "inference_convolution.hpp"

namespace derm {

namespace F = torch::nn::functional;
using torch::nn::Conv2dOptions;

LearnedResizerImpl::LearnedResizerImpl(const StemOptions& stem_options)
    : options(stem_options),
      conv1(register_module("conv1", torch::nn::Conv2d(Conv2dOptions(3, options.channels, 3).padding(1)))),
      conv2(register_module("conv2", torch::nn::Conv2d(Conv2dOptions(options.channels, options.channels, 1)))),
      conv_out(register_module("conv_out", torch::nn::Conv2d(Conv2dOptions(options.channels, 3, 3).padding(1)))),
      bn(register_module("bn", torch::nn::BatchNorm2d(options.channels))),
      resize_(options.output_size) {
  torch::NoGradGuard no_grad;
  conv_out->weight.zero_();
  conv_out->bias.zero_();
}

torch::Tensor LearnedResizerImpl::forward(const torch::Tensor& x) {
  if (!is_training() && !torch::GradMode::is_enabled() && x.is_cpu() && x.scalar_type() == torch::kFloat32 &&
      conv1->weight.scalar_type() == torch::kFloat32) {
    return forward_cpu_inference(x);
  }
  // N x 3 x S x S (S = input size, e.g. 700)
  auto features = F::leaky_relu(conv1(x), F::LeakyReLUFuncOptions().negative_slope(0.2));
  features = batch_norm(bn, F::leaky_relu(conv2(features), F::LeakyReLUFuncOptions().negative_slope(0.2)));
  // N x C x S x S
  return resize(x) + conv_out(resize(features));
  // N x 3 x 299 x 299
}

torch::Tensor LearnedResizerImpl::forward_cpu_inference(const torch::Tensor& x) {
  // One image at a time: a batch's full-resolution features (8 x 16 x 700 x
  // 700 floats: 250 MB) would be fresh memory, page-faulted in, on every call.
  if (x.size(0) > 1) {
    std::vector<torch::Tensor> images;
    for (const auto& image : x.split(1)) images.push_back(forward_cpu_inference(image));
    return torch::cat(images);
  }
  // forward() with two passes over the full-resolution features fewer: the
  // LeakyReLUs in place, and BatchNorm (in eval, a per-channel affine map)
  // after the resize, whose rows sum to 1. Both resizes by taps.
  // 1 x 3 x S x S -> channels-last
  const auto image = x.contiguous(torch::MemoryFormat::ChannelsLast);
  auto features = inference_convolution(image, conv1->weight, conv1->bias, {1, 1}, {1, 1}, {1, 1}, 1);
  torch::leaky_relu_(features, 0.2);
  features = inference_convolution(features, conv2->weight, conv2->bias, {0, 0}, {1, 1}, {1, 1}, 1);
  torch::leaky_relu_(features, 0.2);
  // 1 x C x S x S, channels-last
  const auto small = bn(resize_.by_taps(features));
  // 1 x C x 299 x 299
  return (resize_.by_taps(image) + conv_out(small)).contiguous();
  // 1 x 3 x 299 x 299
}

}  // namespace derm
