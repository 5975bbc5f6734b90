#pragma once
// Images to network input, shared by training and inference: uint8 CHW tensors
// (cheap to hold, e.g. a whole dataset on the GPU) and their normalisation.
#include <torch/torch.h>

#include <opencv2/core.hpp>

#include "derm/model/model_metadata.hpp"

namespace derm {

// CV_8UC3 RGB H x W -> uint8 tensor 3 x H x W (a copy).
torch::Tensor to_chw_uint8(const cv::Mat& rgb);

// uint8 N x 3 x H x W (any device) -> float N x 3 x H x W, (x/255 - mean) / std,
// laid out in `format` (the conversion happens on the uint8 images, 4x cheaper);
// with the preprocessing's colour constancy applied to x/255 first.
// What every network input goes through, in training and in inference.
torch::Tensor normalize_batch(const torch::Tensor& images, const Preprocessing& preprocessing,
                              torch::MemoryFormat format = torch::MemoryFormat::Contiguous);

// Shades of Gray on float N x 3 x H x W in [0, 1]: per image, the illuminant
// e_c = mean(x_c^p)^(1/p) of each channel; each channel times 1 / (sqrt(3) e_c / |e|),
// clipped to [0, 1].
torch::Tensor shades_of_gray(const torch::Tensor& images, double p);

// "cpu", "cuda", "cuda:1" or "auto" (CUDA when available); derm::Error otherwise.
torch::Device parse_device(const std::string& name);

}  // namespace derm
