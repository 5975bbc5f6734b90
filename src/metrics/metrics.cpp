#include "derm/metrics/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "binary_scores.hpp"
#include "derm/core/error.hpp"

namespace derm {

namespace {

void require_both_classes(const std::vector<bool>& is_positive, const std::string& what) {
  const auto positives = std::count(is_positive.begin(), is_positive.end(), true);
  if (positives == 0 || positives == static_cast<std::ptrdiff_t>(is_positive.size())) {
    throw Error(what + ": needs both positive and negative images, got " + std::to_string(is_positive.size()) +
                (positives == 0 ? " negatives only" : " positives only"));
  }
}

struct RocCount {
  std::int64_t tp = 0;
  std::int64_t fp = 0;
  double threshold = 0;
};

// Cumulative counts for "score >= threshold", one entry per distinct score,
// in order of decreasing threshold (without the empty +inf point).
std::vector<RocCount> roc_counts(const std::vector<double>& scores, const std::vector<bool>& is_positive) {
  std::vector<std::size_t> order = detail::ascending_order(scores);
  std::reverse(order.begin(), order.end());
  std::vector<RocCount> counts;
  RocCount running;
  std::size_t k = 0;
  while (k < order.size()) {
    running.threshold = scores[order[k]];
    for (; k < order.size() && scores[order[k]] == running.threshold; ++k) {
      (is_positive[order[k]] ? running.tp : running.fp) += 1;
    }
    counts.push_back(running);
  }
  return counts;
}

double ratio(std::int64_t numerator, std::int64_t denominator) {
  if (denominator == 0) return std::numeric_limits<double>::quiet_NaN();
  return static_cast<double>(numerator) / static_cast<double>(denominator);
}

}  // namespace

double auc_roc(const std::vector<double>& scores, const std::vector<bool>& is_positive) {
  detail::check_binary_input(scores, is_positive, "AUC");
  require_both_classes(is_positive, "AUC");
  return detail::weighted_auc(scores, is_positive, detail::ascending_order(scores), {});
}

std::vector<RocPoint> roc_curve(const std::vector<double>& scores, const std::vector<bool>& is_positive) {
  detail::check_binary_input(scores, is_positive, "ROC curve");
  require_both_classes(is_positive, "ROC curve");
  const auto positives = static_cast<double>(std::count(is_positive.begin(), is_positive.end(), true));
  const auto negatives = static_cast<double>(is_positive.size()) - positives;
  std::vector<RocPoint> points{{0.0, 0.0, std::numeric_limits<double>::infinity()}};
  for (const RocCount& count : roc_counts(scores, is_positive)) {
    points.push_back({count.fp / negatives, count.tp / positives, count.threshold});
  }
  return points;
}

double BinaryCounts::accuracy() const { return ratio(tp + tn, total()); }
double BinaryCounts::sensitivity() const { return ratio(tp, tp + fn); }
double BinaryCounts::specificity() const { return ratio(tn, tn + fp); }
double BinaryCounts::precision() const { return ratio(tp, tp + fp); }

BinaryCounts binary_counts(const std::vector<bool>& predicted_positive, const std::vector<bool>& is_positive) {
  if (predicted_positive.empty()) throw Error("binary counts: no images");
  if (predicted_positive.size() != is_positive.size()) {
    throw Error("binary counts: " + std::to_string(predicted_positive.size()) + " decisions but " +
                std::to_string(is_positive.size()) + " labels");
  }
  BinaryCounts counts;
  for (std::size_t i = 0; i < is_positive.size(); ++i) {
    if (is_positive[i]) {
      (predicted_positive[i] ? counts.tp : counts.fn) += 1;
    } else {
      (predicted_positive[i] ? counts.fp : counts.tn) += 1;
    }
  }
  return counts;
}

BinaryCounts binary_counts_at(const std::vector<double>& scores, const std::vector<bool>& is_positive,
                              double threshold) {
  detail::check_binary_input(scores, is_positive, "binary counts");
  if (std::isnan(threshold)) throw Error("binary counts: threshold is NaN");
  std::vector<bool> decisions(scores.size());
  for (std::size_t i = 0; i < scores.size(); ++i) decisions[i] = scores[i] >= threshold;
  return binary_counts(decisions, is_positive);
}

double youden_threshold(const std::vector<double>& scores, const std::vector<bool>& is_positive) {
  detail::check_binary_input(scores, is_positive, "Youden threshold");
  require_both_classes(is_positive, "Youden threshold");
  const std::int64_t positives = std::count(is_positive.begin(), is_positive.end(), true);
  const std::int64_t negatives = static_cast<std::int64_t>(is_positive.size()) - positives;
  // J * positives * negatives = tp * negatives - fp * positives, compared exactly.
  const std::vector<RocCount> counts = roc_counts(scores, is_positive);
  const RocCount* best = &counts.front();
  std::int64_t best_j = best->tp * negatives - best->fp * positives;
  for (const RocCount& count : counts) {
    const std::int64_t j = count.tp * negatives - count.fp * positives;
    if (j > best_j) {
      best_j = j;
      best = &count;
    }
  }
  return best->threshold;
}

double threshold_for_sensitivity(const std::vector<double>& scores, const std::vector<bool>& is_positive,
                                 double target_sensitivity) {
  detail::check_binary_input(scores, is_positive, "target-sensitivity threshold");
  if (!(target_sensitivity > 0.0 && target_sensitivity <= 1.0)) {
    throw Error("target sensitivity must lie in (0, 1], got " + std::to_string(target_sensitivity));
  }
  const std::int64_t positives = std::count(is_positive.begin(), is_positive.end(), true);
  if (positives == 0) throw Error("target-sensitivity threshold: no positive images");
  for (const RocCount& count : roc_counts(scores, is_positive)) {
    if (static_cast<double>(count.tp) / static_cast<double>(positives) >= target_sensitivity - 1e-12) {
      return count.threshold;
    }
  }
  return roc_counts(scores, is_positive).back().threshold;  // unreachable: the lowest score reaches 1
}

ConfusionMatrix confusion_matrix(const std::vector<int>& true_classes, const std::vector<int>& predicted_classes,
                                 int class_count) {
  if (class_count < 1) throw Error("confusion matrix: needs at least one class");
  if (true_classes.size() != predicted_classes.size()) {
    throw Error("confusion matrix: " + std::to_string(true_classes.size()) + " labels but " +
                std::to_string(predicted_classes.size()) + " predictions");
  }
  ConfusionMatrix matrix(class_count, std::vector<std::int64_t>(class_count, 0));
  for (std::size_t i = 0; i < true_classes.size(); ++i) {
    const int t = true_classes[i];
    const int p = predicted_classes[i];
    if (t < 0 || t >= class_count || p < 0 || p >= class_count) {
      throw Error("confusion matrix: class index out of range 0.." + std::to_string(class_count - 1) +
                  " at image " + std::to_string(i));
    }
    matrix[t][p] += 1;
  }
  return matrix;
}

double multiclass_accuracy(const std::vector<int>& true_classes, const std::vector<int>& predicted_classes) {
  if (true_classes.empty()) throw Error("accuracy: no images");
  if (true_classes.size() != predicted_classes.size()) {
    throw Error("accuracy: " + std::to_string(true_classes.size()) + " labels but " +
                std::to_string(predicted_classes.size()) + " predictions");
  }
  std::size_t correct = 0;
  for (std::size_t i = 0; i < true_classes.size(); ++i) correct += true_classes[i] == predicted_classes[i];
  return static_cast<double>(correct) / static_cast<double>(true_classes.size());
}

double quantile(std::vector<double> values, double q) {
  if (values.empty()) throw Error("quantile of no values");
  std::sort(values.begin(), values.end());
  const double position = std::clamp(q, 0.0, 1.0) * static_cast<double>(values.size() - 1);
  const auto below = static_cast<std::size_t>(std::floor(position));
  const std::size_t above = std::min(below + 1, values.size() - 1);
  const double fraction = position - static_cast<double>(below);
  return values[below] + fraction * (values[above] - values[below]);
}

}  // namespace derm
