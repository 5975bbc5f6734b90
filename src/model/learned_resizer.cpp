#include "derm/model/learned_resizer.hpp"

#include "derm/model/batch_norm_sync.hpp"

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
  // N x 3 x S x S (S = input size, e.g. 700)
  auto features = F::leaky_relu(conv1(x), F::LeakyReLUFuncOptions().negative_slope(0.2));
  features = batch_norm(bn, F::leaky_relu(conv2(features), F::LeakyReLUFuncOptions().negative_slope(0.2)));
  // N x C x S x S
  return resize(x) + conv_out(resize(features));
  // N x 3 x 299 x 299
}

}  // namespace derm
