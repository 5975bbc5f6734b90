#pragma once
// PyTorch's antialiased bilinear resize (interpolate: bilinear, antialias,
// align_corners false, to a size) as matrix products, y = R_h x R_w^T with one
// (out x in) matrix per axis. On a GPU both passes, backward included, are
// GEMMs; interpolate's antialiased CUDA kernels are slow, slowest in half
// precision (pytorch/pytorch#82397).
#include <cstdint>

#include <torch/torch.h>

namespace derm {

// One axis: row i holds output i's triangle-filter weights over the input,
// the filter widened by the downscale factor, clipped to the input and
// normalised to sum 1 (PyTorch's weights). float32, on the CPU.
torch::Tensor antialiased_resize_matrix(int64_t in_size, int64_t out_size);

// x: N x C x H x W; rows: out_h x H and cols: out_w x W from
// antialiased_resize_matrix, on x's device -> N x C x out_h x out_w, computed
// in x's dtype whatever autocast says (bf16 input: bf16 weights, fp32
// accumulation, as autocast's convolutions; fp32 input: fp32 throughout).
torch::Tensor resize_by_matrices(const torch::Tensor& x, const torch::Tensor& rows, const torch::Tensor& cols);

}  // namespace derm
