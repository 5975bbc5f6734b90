#include "derm/eval/roc_plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "derm/core/atomic_file.hpp"
#include "derm/core/error.hpp"

namespace derm {
namespace {

constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;
const cv::Scalar kBlack(0, 0, 0);
const cv::Scalar kGrid(225, 225, 225);
const cv::Scalar kDiagonal(150, 150, 150);
// Colour-blind-safe palette (Okabe-Ito), BGR.
const cv::Scalar kPalette[] = {{178, 114, 0},  {0, 94, 213},  {115, 158, 0}, {167, 121, 204},
                               {233, 180, 86}, {0, 159, 230}, {66, 228, 240}, {60, 60, 60}};

struct PlotArea {
  cv::Rect rect;
  cv::Point at(double fpr, double tpr) const {
    return {rect.x + static_cast<int>(std::lround(fpr * rect.width)),
            rect.y + rect.height - static_cast<int>(std::lround(tpr * rect.height))};
  }
};

void put_text(cv::Mat& image, const std::string& text, cv::Point origin, double scale, int thickness = 1) {
  cv::putText(image, text, origin, kFont, scale, kBlack, thickness, cv::LINE_AA);
}

cv::Size text_size(const std::string& text, double scale, int thickness = 1) {
  int baseline = 0;
  return cv::getTextSize(text, kFont, scale, thickness, &baseline);
}

void put_centred(cv::Mat& image, const std::string& text, cv::Point centre, double scale, int thickness = 1) {
  const cv::Size size = text_size(text, scale, thickness);
  put_text(image, text, {centre.x - size.width / 2, centre.y + size.height / 2}, scale, thickness);
}

// Vertical text reading bottom to top, centred on `centre`.
void put_vertical(cv::Mat& image, const std::string& text, cv::Point centre, double scale) {
  const cv::Size size = text_size(text, scale);
  cv::Mat strip(size.height + 12, size.width + 4, CV_8UC3, cv::Scalar::all(255));
  put_text(strip, text, {2, size.height + 4}, scale);
  cv::Mat rotated;
  cv::rotate(strip, rotated, cv::ROTATE_90_COUNTERCLOCKWISE);
  const cv::Rect target(centre.x - rotated.cols / 2, centre.y - rotated.rows / 2, rotated.cols, rotated.rows);
  if ((target & cv::Rect(0, 0, image.cols, image.rows)) != target) return;
  rotated.copyTo(image(target));
}

void draw_dashed(cv::Mat& image, cv::Point from, cv::Point to, const cv::Scalar& colour, int dash) {
  const double length = std::hypot(to.x - from.x, to.y - from.y);
  for (double start = 0; start < length; start += 2.0 * dash) {
    const double end = std::min(start + dash, length);
    const auto point = [&](double s) {
      return cv::Point(static_cast<int>(std::lround(from.x + (to.x - from.x) * s / length)),
                       static_cast<int>(std::lround(from.y + (to.y - from.y) * s / length)));
    };
    cv::line(image, point(start), point(end), colour, 1, cv::LINE_AA);
  }
}

void draw_axes(cv::Mat& image, const PlotArea& area, double scale) {
  for (int k = 0; k <= 10; ++k) {
    const double v = k / 10.0;
    cv::line(image, area.at(v, 0), area.at(v, 1), kGrid, 1);
    cv::line(image, area.at(0, v), area.at(1, v), kGrid, 1);
  }
  draw_dashed(image, area.at(0, 0), area.at(1, 1), kDiagonal, 8);
  cv::rectangle(image, area.rect, kBlack, 1);
  const int tick = std::max(5, area.rect.width / 100);
  for (int k = 0; k <= 5; ++k) {
    const double v = k / 5.0;
    char label[8];
    std::snprintf(label, sizeof label, "%.1f", v);
    const cv::Size size = text_size(label, scale);
    const cv::Point x_tick = area.at(v, 0);
    cv::line(image, x_tick, x_tick + cv::Point(0, tick), kBlack, 1);
    put_text(image, label, {x_tick.x - size.width / 2, x_tick.y + tick + size.height + 6}, scale);
    const cv::Point y_tick = area.at(0, v);
    cv::line(image, y_tick, y_tick - cv::Point(tick, 0), kBlack, 1);
    put_text(image, label, {y_tick.x - tick - size.width - 6, y_tick.y + size.height / 2}, scale);
  }
}

void draw_legend(cv::Mat& image, const PlotArea& area, const std::vector<std::string>& entries, double scale) {
  const int line_height = text_size("Ag", scale).height + 14;
  const int swatch = 34;
  int widest = 0;
  for (const std::string& entry : entries) widest = std::max(widest, text_size(entry, scale).width);
  const int width = swatch + 24 + widest;
  const int height = line_height * static_cast<int>(entries.size()) + 10;
  const cv::Rect box(area.rect.x + area.rect.width - width - 12, area.rect.y + area.rect.height - height - 12,
                     width, height);
  cv::rectangle(image, box, cv::Scalar::all(255), cv::FILLED);
  cv::rectangle(image, box, cv::Scalar::all(120), 1);
  for (std::size_t k = 0; k < entries.size(); ++k) {
    const int y = box.y + 5 + line_height * static_cast<int>(k) + line_height / 2;
    cv::line(image, {box.x + 8, y}, {box.x + 8 + swatch, y}, kPalette[k], 3, cv::LINE_AA);
    put_text(image, entries[k], {box.x + swatch + 16, y + text_size("0", scale).height / 2}, scale);
  }
}

}  // namespace

cv::Mat draw_roc_plot(const std::string& title, const std::vector<RocSeries>& series, int size) {
  if (size < 300) throw Error("ROC plot: size must be at least 300 pixels, got " + std::to_string(size));
  if (series.empty() || series.size() > std::size(kPalette)) {
    throw Error("ROC plot: needs 1 to " + std::to_string(std::size(kPalette)) + " curves, got " +
                std::to_string(series.size()));
  }
  const double scale = size / 1400.0;  // text scale
  cv::Mat image(size, size, CV_8UC3, cv::Scalar::all(255));
  const int left = size * 15 / 100;
  const int top = size * 10 / 100;
  const int side = size - left - size * 5 / 100;
  const PlotArea area{cv::Rect(left, top, side, size - top - size * 13 / 100)};

  draw_axes(image, area, scale);
  std::vector<std::string> legend;
  for (std::size_t k = 0; k < series.size(); ++k) {
    std::vector<cv::Point> polyline;
    for (const RocPoint& point : series[k].points) polyline.push_back(area.at(point.fpr, point.tpr));
    cv::polylines(image, polyline, false, kPalette[k], std::max(2, size / 400), cv::LINE_AA);
    char auc[32];
    std::snprintf(auc, sizeof auc, " (AUC %.3f)", series[k].auc);
    legend.push_back(series[k].label + auc);
  }
  draw_legend(image, area, legend, scale * 1.1);

  put_centred(image, title, {size / 2, top / 2}, scale * 1.4, 2);
  put_centred(image, "False positive rate (1 - specificity)",
              {area.rect.x + area.rect.width / 2, size - size * 4 / 100}, scale * 1.15);
  put_vertical(image, "True positive rate (sensitivity)", {size * 4 / 100, area.rect.y + area.rect.height / 2},
               scale * 1.15);
  return image;
}

void write_roc_plot(const std::filesystem::path& path, const std::string& title, const std::vector<RocSeries>& series,
                    int size) {
  const cv::Mat image = draw_roc_plot(title, series, size);
  std::vector<unsigned char> png;
  if (!cv::imencode(".png", image, png)) throw Error(path.string() + ": cannot encode the ROC plot as PNG");
  write_file_atomically(path, [&](std::ostream& out) {
    out.write(reinterpret_cast<const char*>(png.data()), static_cast<std::streamsize>(png.size()));
  });
}

}  // namespace derm
