#include "derm/tensor_augment.hpp"

#include <cmath>

#include "derm/error.hpp"

namespace derm {

namespace F = torch::nn::functional;

torch::Tensor TensorAugmenter::apply(const torch::Tensor& sources, const std::vector<std::uint64_t>& seeds) const {
  if (sources.dim() != 4 || sources.size(1) != 3 || sources.scalar_type() != torch::kUInt8) {
    throw Error("TensorAugmenter: expected uint8 N x 3 x H x W images");
  }
  const int64_t n = sources.size(0);
  if (static_cast<int64_t>(seeds.size()) != n) throw Error("TensorAugmenter: one seed per image is needed");
  const int64_t height = sources.size(2);
  const int64_t width = sources.size(3);
  const int64_t size = augmenter_.params().output_size;

  std::vector<Distortions> draws;
  std::vector<float> gamma, contrast, brightness, gain, theta;
  for (const auto seed : seeds) {
    const Distortions d = augmenter_.draw(seed);
    gamma.push_back(static_cast<float>(d.lighting.gamma));
    contrast.push_back(static_cast<float>(d.lighting.contrast));
    brightness.push_back(static_cast<float>(d.lighting.brightness));
    for (double g : d.lighting.gain) gain.push_back(static_cast<float>(g));
    // Augmenter's source -> output map, output = L (source - source centre) +
    // output centre, inverted into grid_sample's normalised coordinates
    // (align_corners: -1 and 1 are the centres of the edge pixels).
    const double radians = d.rotation_deg * M_PI / 180.0;
    const double c = std::cos(radians), s = std::sin(radians);
    const double ax = d.scale_x * (d.hflip ? -1.0 : 1.0) * static_cast<double>(size) / width;
    const double ay = d.scale_y * (d.vflip ? -1.0 : 1.0) * static_cast<double>(size) / height;
    const double l00 = c * ax, l01 = s * ay, l10 = -s * ax, l11 = c * ay;
    const double det = l00 * l11 - l01 * l10;
    const double i00 = l11 / det, i01 = -l01 / det, i10 = -l10 / det, i11 = l00 / det;
    const double out_half = (size - 1) / 2.0;
    const double src_half_x = (width - 1) / 2.0, src_half_y = (height - 1) / 2.0;
    theta.insert(theta.end(), {static_cast<float>(i00 * out_half / src_half_x), static_cast<float>(i01 * out_half / src_half_x), 0.0f,
                               static_cast<float>(i10 * out_half / src_half_y), static_cast<float>(i11 * out_half / src_half_y), 0.0f});
    draws.push_back(d);
  }
  const auto options = torch::TensorOptions().dtype(torch::kFloat32);
  const auto device = sources.device();
  const auto per_image = [&](const std::vector<float>& values) { return torch::tensor(values, options).view({n, 1, 1, 1}).to(device); };

  // Lighting on the source, as Augmenter does: x^gamma, contrast about the
  // image's mean (after gamma), brightness, per-channel gain, quantised to 8 bits.
  auto x = sources.to(torch::kFloat32).div_(255.0f);
  const auto g = per_image(gamma);
  const auto pivot = x.mean({1, 2, 3}, /*keepdim=*/true).pow(g);
  x = pivot + per_image(contrast) * (x.pow(g) - pivot) + per_image(brightness);
  x = (x * torch::tensor(gain, options).view({n, 3, 1, 1}).to(device) * 255.0f).round_().clamp_(0.0f, 255.0f);

  // The geometry in one resampling.
  const auto grid = F::affine_grid(torch::tensor(theta, options).view({n, 2, 3}).to(device), {n, 3, size, size},
                                   /*align_corners=*/true);
  auto out = F::grid_sample(x, grid, F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kReflection).align_corners(true));
  out = out.round_().clamp_(0.0f, 255.0f);

  // Cut-outs, filled like Augmenter's (the mean colour of the warped image).
  const CutoutFill fill = augmenter_.params().cutout_fill;
  for (int64_t i = 0; i < n; ++i) {
    if (draws[static_cast<std::size_t>(i)].cutouts.empty()) continue;
    auto image = out[i];
    const auto mean = image.mean({1, 2}, /*keepdim=*/true).round();
    for (const cv::Rect& r : draws[static_cast<std::size_t>(i)].cutouts) {
      auto patch = image.slice(1, r.y, r.y + r.height).slice(2, r.x, r.x + r.width);
      switch (fill) {
        case CutoutFill::mean: patch.copy_(mean.expand_as(patch)); break;
        case CutoutFill::black: patch.zero_(); break;
        case CutoutFill::noise: patch.copy_(torch::randint(0, 256, patch.sizes(), patch.options())); break;
      }
    }
  }
  return out.to(torch::kUInt8);
}

}  // namespace derm
