#pragma once
// Binary and multi-class classification metrics on plain vectors.
//
// Conventions: a binary problem is a score per image (higher = more likely
// positive) and an is_positive flag per image; a decision "positive" means
// score >= threshold. Every function throws derm::Error for empty input,
// mismatched lengths or NaN scores; AUC and ROC also need both classes present.
#include <cstdint>
#include <limits>
#include <vector>

namespace derm {

// Exact area under the ROC curve: the Mann-Whitney U statistic with mid-ranks,
// i.e. P(score_pos > score_neg) + 0.5 * P(score_pos == score_neg). Equals the
// trapezoidal area under roc_curve() (tied scores give diagonal segments).
double auc_roc(const std::vector<double>& scores, const std::vector<bool>& is_positive);

struct RocPoint {
  double fpr = 0;
  double tpr = 0;
  double threshold = 0;  // positive means score >= threshold; +inf for the (0,0) point
};

// One point per distinct score, from (0,0) at threshold +inf to (1,1) at the
// lowest score, in order of decreasing threshold.
std::vector<RocPoint> roc_curve(const std::vector<double>& scores, const std::vector<bool>& is_positive);

// Counts of a binary decision against the truth. Ratios with a zero
// denominator are NaN (e.g. sensitivity when there are no positives).
struct BinaryCounts {
  std::int64_t tp = 0;
  std::int64_t fp = 0;
  std::int64_t tn = 0;
  std::int64_t fn = 0;

  std::int64_t total() const { return tp + fp + tn + fn; }
  double accuracy() const;
  double sensitivity() const;  // tp / (tp + fn), the true positive rate
  double specificity() const;  // tn / (tn + fp), the true negative rate
  double precision() const;    // tp / (tp + fp), the positive predictive value
};

BinaryCounts binary_counts(const std::vector<bool>& predicted_positive, const std::vector<bool>& is_positive);
// Decision: score >= threshold.
BinaryCounts binary_counts_at(const std::vector<double>& scores, const std::vector<bool>& is_positive,
                              double threshold);

// The observed score that maximises Youden's J = sensitivity + specificity - 1
// (decision score >= threshold); among equal J the highest such score.
double youden_threshold(const std::vector<double>& scores, const std::vector<bool>& is_positive);

// The highest observed score whose decision (score >= threshold) reaches
// sensitivity >= target, i.e. the most specific threshold meeting the target.
// target must lie in (0, 1].
double threshold_for_sensitivity(const std::vector<double>& scores, const std::vector<bool>& is_positive,
                                 double target_sensitivity);

// K x K counts: matrix[true_class][predicted_class]. Classes must lie in 0..K-1.
using ConfusionMatrix = std::vector<std::vector<std::int64_t>>;
ConfusionMatrix confusion_matrix(const std::vector<int>& true_classes, const std::vector<int>& predicted_classes,
                                 int class_count);
// Fraction of images whose predicted class is the true class.
double multiclass_accuracy(const std::vector<int>& true_classes, const std::vector<int>& predicted_classes);

// The q-quantile (0..1) of values by linear interpolation between order
// statistics (numpy's default); derm::Error when values is empty.
double quantile(std::vector<double> values, double q);

}  // namespace derm
