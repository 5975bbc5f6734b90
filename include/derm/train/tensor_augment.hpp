#pragma once
// derm::Augmenter on batches of tensors, for training with the images held on
// the GPU. The distortions and their values are the Augmenter's own (drawn by
// Augmenter::draw from the same sample seeds); only the resampling differs:
// torch's grid_sample (bilinear, reflected border) instead of OpenCV's
// warpAffine, so outputs agree with Augmenter::apply up to interpolation
// rounding. Noise-filled cut-outs draw from a torch generator seeded with the
// sample's noise seed (so other values than OpenCV's, from the same seed).
#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "derm/augment/augmenter.hpp"

namespace derm {

class TensorAugmenter {
 public:
  explicit TensorAugmenter(const Augmenter& augmenter) : augmenter_(augmenter) {}

  // sources: uint8 N x 3 x H x W on any device, already square by the resize
  // policy -> uint8 N x 3 x S x S (S = output_size) on the same device.
  torch::Tensor apply(const torch::Tensor& sources, const std::vector<std::uint64_t>& seeds) const;

 private:
  const Augmenter& augmenter_;
};

}  // namespace derm
