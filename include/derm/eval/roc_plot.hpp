#pragma once
// ROC curves drawn with OpenCV: white background, axes with ticks and labels,
// the chance diagonal, one coloured curve per series, a legend with each
// series' AUC to 3 decimals, and a title.
#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "derm/metrics/metrics.hpp"

namespace derm {

struct RocSeries {
  std::string label;  // e.g. "majority vote"; the legend adds " (AUC 0.874)"
  std::vector<RocPoint> points;
  double auc = 0;
};

// A size x size 8-bit BGR image; size >= 300, at most 8 series.
cv::Mat draw_roc_plot(const std::string& title, const std::vector<RocSeries>& series, int size = 800);

// draw_roc_plot encoded as PNG and written atomically.
void write_roc_plot(const std::filesystem::path& path, const std::string& title,
                    const std::vector<RocSeries>& series, int size = 800);

}  // namespace derm
