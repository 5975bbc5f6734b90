// Augmenter: draws a sample's distortions from its seed and applies them, with
// all the geometry (mirror, stretch, rotation, resize) in one cv::warpAffine.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include <opencv2/imgproc.hpp>

#include "derm/augment/augmenter.hpp"
#include "derm/core/error.hpp"
#include "sample_rng.hpp"

namespace derm {

namespace {


cv::Rect draw_cutout(int side, double area_fraction, double aspect, double u_x, double u_y) {
  const double area = static_cast<double>(side) * side * area_fraction;
  int width = static_cast<int>(std::lround(std::sqrt(area * aspect)));
  int height = static_cast<int>(std::lround(std::sqrt(area / aspect)));
  // A rectangle wider (taller) than the image keeps its area by growing the other way.
  if (width > side) {
    width = side;
    height = static_cast<int>(std::lround(area / side));
  }
  if (height > side) {
    height = side;
    width = static_cast<int>(std::lround(area / side));
  }
  width = std::clamp(width, 1, side);
  height = std::clamp(height, 1, side);
  const int x = std::min(side - width, static_cast<int>(u_x * (side - width + 1)));
  const int y = std::min(side - height, static_cast<int>(u_y * (side - height + 1)));
  return cv::Rect(x, y, width, height);
}

// cv::warpAffine with BORDER_REFLECT_101 takes OpenCV's slow per-pixel border
// path; reflecting the needed margin once with copyMakeBorder and warping with
// the margin in place is 2-3x faster and gives the same reflected pixels.
cv::Mat warp_with_reflection(const cv::Mat& source, const cv::Matx23d& matrix, int size) {
  const cv::Matx22d linear(matrix(0, 0), matrix(0, 1), matrix(1, 0), matrix(1, 1));
  const cv::Matx22d inverse = linear.inv();
  const cv::Vec2d shift(matrix(0, 2), matrix(1, 2));
  double min_x = 1e300, max_x = -1e300, min_y = 1e300, max_y = -1e300;
  for (const double x : {-1.0, static_cast<double>(size)}) {
    for (const double y : {-1.0, static_cast<double>(size)}) {
      const cv::Vec2d p = inverse * (cv::Vec2d(x, y) - shift);
      min_x = std::min(min_x, p[0]);
      max_x = std::max(max_x, p[0]);
      min_y = std::min(min_y, p[1]);
      max_y = std::max(max_y, p[1]);
    }
  }
  auto margin = [](double overshoot) { return std::max(0, static_cast<int>(std::ceil(overshoot)) + 2); };
  const int left = margin(-min_x), right = margin(max_x - (source.cols - 1));
  const int top = margin(-min_y), bottom = margin(max_y - (source.rows - 1));
  const double padded_area = static_cast<double>(source.cols + left + right) * (source.rows + top + bottom);
  cv::Mat out;
  if (padded_area > 4.0 * source.total() + 4.0 * size * size) {  // extreme compression: not worth it
    cv::warpAffine(source, out, matrix, cv::Size(size, size), cv::INTER_LINEAR, cv::BORDER_REFLECT_101);
    return out;
  }
  cv::Mat padded;
  cv::copyMakeBorder(source, padded, top, bottom, left, right, cv::BORDER_REFLECT_101);
  cv::Matx23d shifted = matrix;
  shifted(0, 2) -= linear(0, 0) * left + linear(0, 1) * top;
  shifted(1, 2) -= linear(1, 0) * left + linear(1, 1) * top;
  cv::warpAffine(padded, out, shifted, cv::Size(size, size), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  return out;
}

bool is_neutral(const Lighting& lighting) {
  return lighting.brightness == 0.0 && lighting.contrast == 1.0 && lighting.gamma == 1.0 &&
         lighting.gain[0] == 1.0 && lighting.gain[1] == 1.0 && lighting.gain[2] == 1.0;
}

}  // namespace

Augmenter::Augmenter(AugmentParams params) : params_(std::move(params)) { params_.validate(); }

int Augmenter::working_side() const {
  const double zoom = std::max({1.0, params_.scale_x.max, params_.scale_y.max});
  return static_cast<int>(std::ceil(params_.output_size * zoom));
}

Distortions Augmenter::draw(std::uint64_t sample_seed) const {
  const AugmentParams& p = params_;
  detail::SampleRng rng(sample_seed);
  Distortions d;
  d.hflip = rng.bernoulli(p.hflip_probability);
  d.vflip = rng.bernoulli(p.vflip_probability);
  d.rotation_deg = rng.uniform(p.rotation_deg.min, p.rotation_deg.max);
  d.scale_x = rng.log_uniform(p.scale_x.min, p.scale_x.max);
  d.scale_y = rng.log_uniform(p.scale_y.min, p.scale_y.max);

  d.lighting.brightness = rng.uniform(p.brightness.min, p.brightness.max);
  d.lighting.contrast = rng.uniform(p.contrast.min, p.contrast.max);
  d.lighting.gamma = rng.log_uniform(p.gamma.min, p.gamma.max);
  for (double& gain : d.lighting.gain) gain = rng.uniform(p.channel_gain.min, p.channel_gain.max);

  const bool cut = rng.bernoulli(p.cutout_probability);
  const auto count = rng.integer(static_cast<std::int64_t>(p.cutout_count.min),
                                 static_cast<std::int64_t>(p.cutout_count.max));
  // Always draw the largest count's values, so the count does not shift later draws.
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(p.cutout_count.max); ++i) {
    const double area = rng.uniform(p.cutout_area.min, p.cutout_area.max);
    const double aspect = rng.log_uniform(p.cutout_aspect.min, p.cutout_aspect.max);
    const double u_x = rng.uniform01();
    const double u_y = rng.uniform01();
    if (cut && i < count) d.cutouts.push_back(draw_cutout(p.output_size, area, aspect, u_x, u_y));
  }
  d.noise_seed = rng.next();
  return d;
}

cv::Mat Augmenter::prepare(const cv::Mat& rgb) const {
  if (rgb.empty() || rgb.type() != CV_8UC3) throw Error("augment: expected a non-empty 8-bit RGB image");
  const int side = working_side();
  int width = rgb.cols;
  int height = rgb.rows;
  if (params_.resize == ResizePolicy::squash) {
    width = std::min(width, side);
    height = std::min(height, side);
  } else {
    const int reference = params_.resize == ResizePolicy::center_crop ? std::min(width, height)
                                                                      : std::max(width, height);
    const double factor = static_cast<double>(side) / reference;
    if (factor < 1.0) {
      width = std::max(1, static_cast<int>(std::lround(width * factor)));
      height = std::max(1, static_cast<int>(std::lround(height * factor)));
    }
  }
  if (width == rgb.cols && height == rgb.rows) return rgb;
  cv::Mat out;
  cv::resize(rgb, out, cv::Size(width, height), 0, 0, cv::INTER_AREA);
  return out;
}

cv::Mat Augmenter::apply(const cv::Mat& rgb, std::uint64_t sample_seed) const {
  return apply(rgb, draw(sample_seed));
}

cv::Mat Augmenter::apply(const cv::Mat& rgb, const Distortions& d) const {
  // Lighting is per pixel, so it goes on the (usually smaller) source before
  // the warp; its contrast pivots about the source's mean.
  cv::Mat source = prepare(rgb);
  if (!is_neutral(d.lighting)) source = adjust_lighting(source, d.lighting);
  const int size = params_.output_size;

  // Source pixels -> square output, by the resize policy.
  double base_x = static_cast<double>(size) / source.cols;
  double base_y = static_cast<double>(size) / source.rows;
  if (params_.resize == ResizePolicy::center_crop) base_x = base_y = std::max(base_x, base_y);
  if (params_.resize == ResizePolicy::pad) base_x = base_y = std::min(base_x, base_y);

  // A = R(angle) * diag(scale) * diag(flip) * diag(base), about the centres.
  const double radians = d.rotation_deg * CV_PI / 180.0;
  const double c = std::cos(radians);
  const double s = std::sin(radians);
  const double ax = d.scale_x * (d.hflip ? -1.0 : 1.0) * base_x;
  const double ay = d.scale_y * (d.vflip ? -1.0 : 1.0) * base_y;
  const cv::Matx22d linear(c * ax, s * ay, -s * ax, c * ay);
  const cv::Vec2d source_centre((source.cols - 1) / 2.0, (source.rows - 1) / 2.0);
  const cv::Vec2d output_centre((size - 1) / 2.0, (size - 1) / 2.0);
  const cv::Vec2d shift = output_centre - linear * source_centre;
  const cv::Matx23d matrix(linear(0, 0), linear(0, 1), shift[0], linear(1, 0), linear(1, 1), shift[1]);

  cv::Mat out = warp_with_reflection(source, matrix, size);
  cut_out(out, d.cutouts, params_.cutout_fill, d.noise_seed);
  return out;
}

std::string describe(const Distortions& d) {
  char text[256];
  std::snprintf(text, sizeof text,
                "rot %.0f%s%s sx%.2f sy%.2f | b%+.2f c%.2f g%.2f | rgb %.2f/%.2f/%.2f | cut %zu",
                d.rotation_deg, d.hflip ? " H" : "", d.vflip ? " V" : "", d.scale_x, d.scale_y,
                d.lighting.brightness, d.lighting.contrast, d.lighting.gamma, d.lighting.gain[0],
                d.lighting.gain[1], d.lighting.gain[2], d.cutouts.size());
  return text;
}

}  // namespace derm
