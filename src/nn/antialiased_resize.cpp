#include "derm/antialiased_resize.hpp"

#include <algorithm>
#include <cmath>

namespace derm {

torch::Tensor antialiased_resize_matrix(int64_t in_size, int64_t out_size) {
  TORCH_CHECK(in_size > 0 && out_size > 0, "antialiased_resize_matrix: sizes must be positive");
  // PyTorch's _compute_indices_min_size_weights_aa with the bilinear filter
  // (interp_size 2), in its float arithmetic, so that the weights are its own:
  // support and filter widen by the scale when downsampling.
  const float scale = static_cast<float>(in_size) / static_cast<float>(out_size);
  const float support = scale >= 1.0f ? scale : 1.0f;
  const float inverse_scale = scale >= 1.0f ? 1.0f / scale : 1.0f;
  auto matrix = torch::zeros({out_size, in_size}, torch::kFloat32);
  auto m = matrix.accessor<float, 2>();
  for (int64_t i = 0; i < out_size; ++i) {
    const auto center = static_cast<float>(scale * (static_cast<double>(i) + 0.5));
    const int64_t first = std::max<int64_t>(static_cast<int64_t>(center - support + 0.5), 0);
    const int64_t end = std::min<int64_t>(static_cast<int64_t>(center + support + 0.5), in_size);
    float total = 0.0f;
    for (int64_t j = first; j < end; ++j) {
      const auto distance = static_cast<float>((static_cast<float>(j) - center + 0.5) * inverse_scale);
      m[i][j] = std::max(0.0f, 1.0f - std::abs(distance));
      total += m[i][j];
    }
    for (int64_t j = first; j < end && total != 0.0f; ++j) m[i][j] /= total;
  }
  return matrix;
}

torch::Tensor resize_by_matrices(const torch::Tensor& x, const torch::Tensor& rows, const torch::Tensor& cols) {
  // In x's own precision, as interpolate: autocast would round an fp32 image
  // (and the weights) to bf16.
  const c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
  // N x C x H x W -> N x C x H x out_w: one GEMM over all rows of all images
  const auto widths_done = torch::matmul(x.contiguous(), cols.to(x.scalar_type()).t());
  // N x C x out_w x H -> N x C x out_w x out_h, transposed back
  return torch::matmul(widths_done.transpose(2, 3), rows.to(x.scalar_type()).t()).transpose(2, 3).contiguous();
}

}  // namespace derm
