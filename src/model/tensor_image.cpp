#include "derm/model/tensor_image.hpp"

#include <cmath>

#include "derm/core/error.hpp"

namespace derm {

torch::Tensor to_chw_uint8(const cv::Mat& rgb) {
  if (rgb.type() != CV_8UC3) throw Error("to_chw_uint8: expected an 8-bit RGB image");
  const cv::Mat contiguous = rgb.isContinuous() ? rgb : rgb.clone();
  return torch::from_blob(contiguous.data, {contiguous.rows, contiguous.cols, 3}, torch::kUInt8)
      .permute({2, 0, 1})
      .clone();
}

torch::Tensor normalize_batch(const torch::Tensor& images, const Preprocessing& p, torch::MemoryFormat format) {
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(images.device());
  const auto mean = torch::tensor({p.mean[0], p.mean[1], p.mean[2]}, options).view({1, 3, 1, 1});
  const auto std = torch::tensor({p.std[0], p.std[1], p.std[2]}, options).view({1, 3, 1, 1});
  // The element-wise ops keep the layout of the float copy.
  auto x = images.contiguous(format).to(torch::kFloat32).div_(255.0f);
  if (p.color_constancy == ColorConstancy::shades_of_gray) x = shades_of_gray(x, p.color_constancy_p);
  return x.sub_(mean).div_(std);
}

torch::Tensor shades_of_gray(const torch::Tensor& images, double p) {
  // N x 3: each image's illuminant, as a unit vector
  const auto illuminant = images.pow(p).mean({2, 3}).pow(1.0 / p).clamp_min(1e-6);
  const auto unit = illuminant / illuminant.norm(2, 1, /*keepdim=*/true);
  const auto gain = (unit * std::sqrt(3.0)).reciprocal();
  return (images * gain.view({images.size(0), 3, 1, 1})).clamp_(0.0, 1.0);
}

torch::Device parse_device(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  try {
    torch::Device device(name);
    if (device.is_cuda() && !torch::cuda::is_available()) {
      throw OptionError("device", name + ": CUDA is not available on this machine");
    }
    return device;
  } catch (const c10::Error&) {
    throw OptionError("device", "'" + name + "': expected cpu, cuda, cuda:N or auto");
  }
}

}  // namespace derm
