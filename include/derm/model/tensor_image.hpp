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
// laid out in `format` (the conversion happens on the uint8 images, 4x cheaper).
torch::Tensor normalize_batch(const torch::Tensor& images, const Preprocessing& preprocessing,
                              torch::MemoryFormat format = torch::MemoryFormat::Contiguous);

// "cpu", "cuda", "cuda:1" or "auto" (CUDA when available); derm::Error otherwise.
torch::Device parse_device(const std::string& name);

}  // namespace derm
