#pragma once
// Small Inception v3 networks for the nn tests, and how far apart two outputs are.
#include <cstdint>

#include <torch/torch.h>

#include "derm/model/inception_v3.hpp"

namespace derm::testing {

// 3 classes, no auxiliary head; a stem when input_size != backbone_size.
// Seeded, on `device`, in training mode.
inline InceptionV3 small_network(std::uint64_t seed, int64_t input_size, int64_t backbone_size,
                                 const torch::Device& device = torch::kCPU, double dropout = 0.5) {
  torch::manual_seed(seed);
  InceptionV3Options options;
  options.num_classes = 3;
  options.aux_logits = false;
  options.dropout = dropout;
  options.input_size = input_size;
  options.backbone_size = backbone_size;
  InceptionV3 net(options);
  net->to(device);
  return net;
}

// Running statistics and affine parameters far from BatchNorm's defaults, so
// that folding them is not close to the identity.
inline void randomise_batch_norms(InceptionV3& net) {
  torch::NoGradGuard no_grad;
  for (auto& module : net->modules(/*include_self=*/false)) {
    if (auto* bn = module->as<torch::nn::BatchNorm2d>()) {
      bn->weight.uniform_(0.5, 1.5);
      bn->bias.uniform_(-0.5, 0.5);
      bn->running_mean.uniform_(-0.5, 0.5);
      bn->running_var.uniform_(0.5, 2.0);
    }
  }
}

// max |a - b| / max |b|
inline double max_relative_difference(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item<double>();
}

}  // namespace derm::testing
