#pragma once
// Convolutions for inference on the CPU.
#include <torch/torch.h>

namespace derm {

// conv2d(x, weight, bias, ...); without gradients, for float32 CPU tensors, on
// oneDNN whatever the batch and thread count: ATen sends 1x1 convolutions of
// fewer than 16 images on one thread to its native kernels, many times slower.
torch::Tensor inference_convolution(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                                    at::IntArrayRef padding, at::IntArrayRef stride, at::IntArrayRef dilation,
                                    int64_t groups);

}  // namespace derm
