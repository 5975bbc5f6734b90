#include "derm/infer/heatmap.hpp"

#include <algorithm>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "derm/core/error.hpp"

namespace derm {
namespace {

constexpr double kOpacity = 0.45;  // of the colour scale over the image

// The colour scale's RGB colours of 8-bit values.
cv::Mat coloured(const cv::Mat& values) {
  cv::Mat bgr, rgb;
  cv::applyColorMap(values, bgr, cv::COLORMAP_JET);
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return rgb;
}

void draw_legend(cv::Mat& rgb) {
  const int width = std::max(40, rgb.cols / 4);
  const int height = std::max(6, rgb.rows / 40);
  const double scale = std::max(0.3, rgb.rows / 900.0);
  int baseline = 0;
  const cv::Size text = cv::getTextSize("high", cv::FONT_HERSHEY_SIMPLEX, scale, 1, &baseline);
  const int margin = std::max(4, rgb.rows / 100);
  const cv::Rect bar(rgb.cols - width - margin, rgb.rows - height - text.height - 3 * margin, width, height);
  if (bar.x < 0 || bar.y < 0) return;  // too small an image for a legend
  cv::Mat ramp(1, width, CV_8U);
  for (int x = 0; x < width; ++x) ramp.at<unsigned char>(0, x) = static_cast<unsigned char>(255 * x / (width - 1));
  cv::Mat strip;
  cv::resize(coloured(ramp), strip, bar.size(), 0, 0, cv::INTER_NEAREST);
  const cv::Rect box(bar.x - margin, bar.y - margin, width + 2 * margin, height + text.height + 3 * margin);
  cv::rectangle(rgb, box, cv::Scalar(255, 255, 255), cv::FILLED);
  strip.copyTo(rgb(bar));
  const int text_y = bar.y + height + margin + text.height;
  cv::putText(rgb, "low", {bar.x, text_y}, cv::FONT_HERSHEY_SIMPLEX, scale, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  cv::putText(rgb, "high", {bar.x + width - text.width, text_y}, cv::FONT_HERSHEY_SIMPLEX, scale, cv::Scalar(0, 0, 0), 1,
              cv::LINE_AA);
}

}  // namespace

cv::Mat heatmap_overlay(const cv::Mat& rgb, const cv::Mat& map) {
  if (rgb.type() != CV_8UC3 || map.type() != CV_32F || rgb.size() != map.size()) {
    throw Error("heatmap overlay: needs an 8-bit RGB image and a float map of its size");
  }
  cv::Mat values;
  map.convertTo(values, CV_8U, 255.0);
  cv::Mat overlay;
  cv::addWeighted(rgb, 1.0 - kOpacity, coloured(values), kOpacity, 0.0, overlay);
  draw_legend(overlay);
  return overlay;
}

std::string encode_png(const cv::Mat& rgb) {
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  std::vector<unsigned char> bytes;
  if (!cv::imencode(".png", bgr, bytes)) throw Error("cannot encode a PNG");
  return {bytes.begin(), bytes.end()};
}

}  // namespace derm
