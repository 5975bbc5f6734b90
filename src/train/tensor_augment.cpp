#include "derm/train/tensor_augment.hpp"

#include <algorithm>
#include <cmath>
#include <mutex>

#include "derm/core/error.hpp"

namespace derm {

namespace F = torch::nn::functional;

namespace {

// Uniform noise in [0, 255] shaped like out, image i's drawn by a generator of
// out's device seeded with draws[i].noise_seed: a function of the sample's seed
// alone, as Augmenter's (not the same values: torch's generator, not OpenCV's).
torch::Tensor noise_fill(const torch::Tensor& out, const std::vector<Distortions>& draws) {
  auto noise = torch::empty_like(out);
  at::Generator device_generator = at::globalContext().defaultGenerator(out.device());
  at::Generator generator;  // of the device's kind, apart from torch's global one
  {
    const std::lock_guard<std::mutex> lock(device_generator.mutex());
    generator = device_generator.clone();
  }
  for (std::size_t i = 0; i < draws.size(); ++i) {
    generator.set_current_seed(draws[i].noise_seed);
    noise[static_cast<int64_t>(i)].random_(0, 256, generator);
  }
  return noise;
}

}  // namespace

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
  const auto to_device = [&](const std::vector<float>& values, std::vector<int64_t> shape) {
    return torch::tensor(values, options).view(shape).to(device);
  };
  const auto per_image = [&](const std::vector<float>& values) { return to_device(values, {n, 1, 1, 1}); };

  // Lighting on the source, as Augmenter does: x^gamma, contrast about the
  // image's mean (after gamma), brightness, per-channel gain, quantised to 8
  // bits; with x = s / 255, that is round(a s^gamma + b) per image and channel.
  const auto g = per_image(gamma);
  const auto c = per_image(contrast);
  const auto gain255 = to_device(gain, {n, 3, 1, 1}) * 255.0f;
  auto x = sources.to(torch::kFloat32);
  const auto pivot = (x.mean({1, 2, 3}, /*keepdim=*/true) / 255.0f).pow(g);
  const auto a = c * gain255 / torch::pow(255.0f, g);
  const auto b = ((1.0f - c) * pivot + per_image(brightness)) * gain255;
  x.pow_(g).mul_(a).add_(b).round_().clamp_(0.0f, 255.0f);

  // The geometry in one resampling.
  const auto grid = F::affine_grid(to_device(theta, {n, 2, 3}), {n, 3, size, size}, /*align_corners=*/true);
  auto out = F::grid_sample(x, grid, F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kReflection).align_corners(true));
  out.round_().clamp_(0.0f, 255.0f);

  // Cut-outs, filled like Augmenter's (the mean colour of the warped image):
  // one mask for the batch, built on the device from the rectangles.
  std::size_t most = 0;
  for (const auto& d : draws) most = std::max(most, d.cutouts.size());
  if (most == 0) return out.to(torch::kUInt8);
  // top, bottom, left, right of rectangle k of image i, in one transfer; empty slots stay 0 x 0
  const std::size_t slots = static_cast<std::size_t>(n) * most;
  std::vector<float> bounds(4 * slots, 0.0f);
  for (std::size_t i = 0; i < draws.size(); ++i) {
    for (std::size_t k = 0; k < draws[i].cutouts.size(); ++k) {
      const cv::Rect& r = draws[i].cutouts[k];
      const std::size_t slot = i * most + k;
      bounds[slot] = static_cast<float>(r.y);
      bounds[slots + slot] = static_cast<float>(r.y + r.height);
      bounds[2 * slots + slot] = static_cast<float>(r.x);
      bounds[3 * slots + slot] = static_cast<float>(r.x + r.width);
    }
  }
  const auto k_most = static_cast<int64_t>(most);
  const auto box = to_device(bounds, {4, n, k_most, 1, 1});
  const auto top = box[0], bottom = box[1], left = box[2], right = box[3];
  const auto pixels = torch::arange(size, options.device(device));
  const auto ys = pixels.view({1, 1, size, 1}), xs = pixels.view({1, 1, 1, size});
  torch::Tensor mask;  // N x 1 x S x S
  for (int64_t k = 0; k < k_most; ++k) {
    const auto rows = ys.ge(top.narrow(1, k, 1)).logical_and_(ys.lt(bottom.narrow(1, k, 1)));
    const auto cols = xs.ge(left.narrow(1, k, 1)).logical_and_(xs.lt(right.narrow(1, k, 1)));
    const auto inside = rows.logical_and(cols);
    mask = mask.defined() ? mask.logical_or_(inside) : inside;
  }
  switch (augmenter_.params().cutout_fill) {
    case CutoutFill::mean: out = torch::where(mask, out.mean({2, 3}, /*keepdim=*/true).round_(), out); break;
    case CutoutFill::black: out.masked_fill_(mask, 0.0f); break;
    case CutoutFill::noise: out = torch::where(mask, noise_fill(out, draws), out); break;
  }
  return out.to(torch::kUInt8);
}

}  // namespace derm
