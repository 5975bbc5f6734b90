#include "inference_convolution.hpp"

namespace derm {

torch::Tensor inference_convolution(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                                    at::IntArrayRef padding, at::IntArrayRef stride, at::IntArrayRef dilation,
                                    int64_t groups) {
  if (x.is_cpu() && x.scalar_type() == torch::kFloat32 && weight.scalar_type() == torch::kFloat32 &&
      !torch::GradMode::is_enabled() && at::hasMKLDNN()) {
    return at::mkldnn_convolution(x, weight, bias, padding, stride, dilation, groups);
  }
  return torch::conv2d(x, weight, bias, stride, padding, dilation, groups);
}

}  // namespace derm
