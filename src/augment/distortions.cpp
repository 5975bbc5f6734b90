// The single distortions of derm/augment/distortions.hpp, each usable on its own.
#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "derm/augment/distortions.hpp"
#include "derm/core/error.hpp"

namespace derm {

namespace {

void require_rgb8(const cv::Mat& rgb, const char* what) {
  if (rgb.empty() || rgb.type() != CV_8UC3) {
    throw Error(std::string(what) + ": expected a non-empty 8-bit RGB image");
  }
}

}  // namespace

cv::Mat mirror(const cv::Mat& rgb, bool horizontal, bool vertical) {
  require_rgb8(rgb, "mirror");
  if (!horizontal && !vertical) return rgb.clone();
  cv::Mat out;
  cv::flip(rgb, out, horizontal && vertical ? -1 : (horizontal ? 1 : 0));
  return out;
}

cv::Mat rotate(const cv::Mat& rgb, double degrees) {
  require_rgb8(rgb, "rotate");
  // Pixel centres: the centre of a W-pixel row is at (W-1)/2, so 90-degree
  // turns of a square image map pixels exactly onto pixels.
  const cv::Point2f centre((rgb.cols - 1) / 2.0f, (rgb.rows - 1) / 2.0f);
  const cv::Mat matrix = cv::getRotationMatrix2D(centre, degrees, 1.0);
  cv::Mat out;
  cv::warpAffine(rgb, out, matrix, rgb.size(), cv::INTER_LINEAR, cv::BORDER_REFLECT_101);
  return out;
}

cv::Mat stretch(const cv::Mat& rgb, double scale_x, double scale_y) {
  require_rgb8(rgb, "stretch");
  if (!(scale_x > 0) || !(scale_y > 0)) throw Error("stretch: scale factors must be positive");
  const int width = std::max(1, static_cast<int>(std::lround(rgb.cols * scale_x)));
  const int height = std::max(1, static_cast<int>(std::lround(rgb.rows * scale_y)));
  const bool shrinking = static_cast<double>(width) * height < static_cast<double>(rgb.cols) * rgb.rows;
  cv::Mat out;
  cv::resize(rgb, out, cv::Size(width, height), 0, 0, shrinking ? cv::INTER_AREA : cv::INTER_LINEAR);
  return out;
}

cv::Mat adjust_lighting(const cv::Mat& rgb, const Lighting& lighting) {
  require_rgb8(rgb, "adjust_lighting");
  if (!(lighting.gamma > 0)) throw Error("adjust_lighting: gamma must be positive");
  // Contrast pivots about the image's mean intensity (after gamma), so a bright
  // dermoscopy image keeps its overall brightness when its contrast changes.
  const cv::Scalar mean = cv::mean(rgb);
  const double mean_intensity = (mean[0] + mean[1] + mean[2]) / (3.0 * 255.0);
  const double pivot = std::pow(mean_intensity, lighting.gamma);

  cv::Mat table(1, 256, CV_8UC3);
  auto* entries = table.ptr<cv::Vec3b>();
  for (int v = 0; v < 256; ++v) {
    const double x = std::pow(v / 255.0, lighting.gamma);
    const double lit = pivot + lighting.contrast * (x - pivot) + lighting.brightness;
    for (int c = 0; c < 3; ++c) {
      const double value = std::lround(lit * lighting.gain[c] * 255.0);
      entries[v][c] = static_cast<uchar>(std::clamp(value, 0.0, 255.0));
    }
  }
  cv::Mat out;
  cv::LUT(rgb, table, out);
  return out;
}

void cut_out(cv::Mat& rgb, const std::vector<cv::Rect>& rects, CutoutFill fill,
             std::uint64_t noise_seed) {
  require_rgb8(rgb, "cut_out");
  const cv::Rect whole(0, 0, rgb.cols, rgb.rows);
  const cv::Scalar mean = fill == CutoutFill::mean ? cv::mean(rgb) : cv::Scalar();
  // cv::RNG is OpenCV's own multiply-with-carry generator: the same everywhere.
  cv::RNG noise(noise_seed);
  for (const cv::Rect& rect : rects) {
    cv::Mat patch = rgb(rect & whole);
    if (patch.empty()) continue;
    switch (fill) {
      case CutoutFill::mean: patch.setTo(cv::Scalar(std::round(mean[0]), std::round(mean[1]), std::round(mean[2]))); break;
      case CutoutFill::black: patch.setTo(cv::Scalar::all(0)); break;
      case CutoutFill::noise: noise.fill(patch, cv::RNG::UNIFORM, 0, 256); break;
    }
  }
}

}  // namespace derm
