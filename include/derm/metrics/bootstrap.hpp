#pragma once
// Confidence intervals of binary metrics by a seeded percentile bootstrap.
#include <cstdint>
#include <limits>
#include <vector>

namespace derm {

// Seeded percentile bootstrap over images.
struct BootstrapOptions {
  int resamples = 1000;  // 0 disables confidence intervals
  std::uint64_t seed = 2017;
  double confidence = 0.95;  // two-sided percentile interval
};

struct ConfidenceInterval {
  double lower = std::numeric_limits<double>::quiet_NaN();
  double upper = std::numeric_limits<double>::quiet_NaN();
};

struct BinaryMetricIntervals {
  ConfidenceInterval auc;
  ConfidenceInterval accuracy;
  ConfidenceInterval sensitivity;
  ConfidenceInterval specificity;
  int resamples_drawn = 0;
  int resamples_used = 0;  // drawn minus those holding a single class, which are skipped
};

// Draws options.resamples samples of the images with replacement (same
// resamples for the same seed and image count, whatever the scores), skips
// those that hold only one class, and returns the percentile intervals of AUC
// (of `scores`) and of accuracy/sensitivity/specificity (of `predicted_positive`).
// Intervals stay NaN when no resample was usable or resamples == 0.
BinaryMetricIntervals bootstrap_binary_metrics(const std::vector<double>& scores,
                                               const std::vector<bool>& predicted_positive,
                                               const std::vector<bool>& is_positive,
                                               const BootstrapOptions& options);

}  // namespace derm
