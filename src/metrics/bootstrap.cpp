#include "derm/metrics/bootstrap.hpp"

#include <random>
#include <string>

#include "binary_scores.hpp"
#include "derm/core/error.hpp"
#include "derm/metrics/metrics.hpp"

namespace derm {
namespace {

ConfidenceInterval percentile_interval(const std::vector<double>& values, double confidence) {
  if (values.empty()) return {};
  const double tail = (1.0 - confidence) / 2.0;
  return {quantile(values, tail), quantile(values, 1.0 - tail)};
}

}  // namespace

BinaryMetricIntervals bootstrap_binary_metrics(const std::vector<double>& scores,
                                               const std::vector<bool>& predicted_positive,
                                               const std::vector<bool>& is_positive,
                                               const BootstrapOptions& options) {
  detail::check_binary_input(scores, is_positive, "bootstrap");
  if (predicted_positive.size() != scores.size()) {
    throw Error("bootstrap: " + std::to_string(scores.size()) + " scores but " +
                std::to_string(predicted_positive.size()) + " decisions");
  }
  if (options.resamples < 0) throw Error("bootstrap: the number of resamples must be >= 0");
  if (!(options.confidence > 0.0 && options.confidence < 1.0)) {
    throw Error("bootstrap: confidence must lie in (0, 1), got " + std::to_string(options.confidence));
  }

  const std::size_t n = scores.size();
  const std::vector<std::size_t> ascending = detail::ascending_order(scores);
  std::mt19937_64 rng(options.seed);
  std::vector<std::int32_t> weights(n);
  std::vector<double> aucs, accuracies, sensitivities, specificities;

  BinaryMetricIntervals result;
  for (int r = 0; r < options.resamples; ++r) {
    std::fill(weights.begin(), weights.end(), 0);
    // Plain modulo keeps the draws identical across standard libraries; its
    // bias is below 1e-15 for any realistic image count.
    for (std::size_t k = 0; k < n; ++k) weights[rng() % n] += 1;
    ++result.resamples_drawn;

    BinaryCounts counts;
    for (std::size_t i = 0; i < n; ++i) {
      const std::int64_t w = weights[i];
      if (is_positive[i]) {
        (predicted_positive[i] ? counts.tp : counts.fn) += w;
      } else {
        (predicted_positive[i] ? counts.fp : counts.tn) += w;
      }
    }
    if (counts.tp + counts.fn == 0 || counts.tn + counts.fp == 0) continue;  // one class only
    ++result.resamples_used;
    aucs.push_back(detail::weighted_auc(scores, is_positive, ascending, weights));
    accuracies.push_back(counts.accuracy());
    sensitivities.push_back(counts.sensitivity());
    specificities.push_back(counts.specificity());
  }
  result.auc = percentile_interval(aucs, options.confidence);
  result.accuracy = percentile_interval(accuracies, options.confidence);
  result.sensitivity = percentile_interval(sensitivities, options.confidence);
  result.specificity = percentile_interval(specificities, options.confidence);
  return result;
}

}  // namespace derm
