#pragma once
// The evaluation report of an ensemble's predictions against true labels.
//
// "Decisions" are the ensemble's decision rules (majority_vote,
// mean_probability; see derm/ensemble.hpp) and each member alone
// ("member_0", "member_1", ...). Every positive class (default: all classes but
// the last) is evaluated one-vs-rest at a threshold per decision and class:
// fixed (default 0.5), or chosen on validation predictions by choose_thresholds
// and then applied unchanged to the test predictions.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "derm/metrics.hpp"
#include "derm/predictions.hpp"

namespace derm {

enum class ThresholdPolicy {
  fixed,               // the same fixed value for every decision and class
  youden,              // maximises sensitivity + specificity - 1 on validation
  target_sensitivity,  // most specific threshold with sensitivity >= target on validation
};

// "fixed", "youden", "target_sensitivity"; parse throws derm::Error naming the value.
std::string threshold_policy_name(ThresholdPolicy policy);
ThresholdPolicy parse_threshold_policy(const std::string& name);

// "fixed 0.5": the policy text of a fixed threshold in reports.
std::string fixed_threshold_policy(double threshold);

struct ThresholdOptions {
  ThresholdPolicy policy = ThresholdPolicy::fixed;
  double fixed_threshold = 0.5;
  double target_sensitivity = 0.85;
};

// The threshold of every decision ("majority_vote", "mean_probability",
// "member_<m>") and positive class, with how they were chosen.
struct Thresholds {
  std::string policy;  // e.g. "youden on validation (150 images)"
  std::map<std::string, std::map<std::string, double>> values;  // [decision][class]

  // derm::Error naming the decision and class when absent.
  double at(const std::string& decision, const std::string& class_name) const;
  nlohmann::json to_json() const;
};

// Chooses a threshold for every decision and positive class from validation
// predictions and their labels (label indices into validation.classes). For
// majority_vote the threshold applies to each member's probability (see
// majority_threshold_scores). With ThresholdPolicy::fixed the validation data
// are only checked and every threshold is options.fixed_threshold.
// positive_classes empty = default_positive_classes(validation.classes).
Thresholds choose_thresholds(const Predictions& validation, const std::vector<int>& validation_labels,
                             const ThresholdOptions& options,
                             const std::vector<std::string>& positive_classes = {});

struct EvaluationOptions {
  std::vector<std::string> positive_classes;  // empty: all classes but the last
  double fixed_threshold = 0.5;               // used when `thresholds` is empty
  std::optional<Thresholds> thresholds;       // from choose_thresholds on validation data
  BootstrapOptions bootstrap;                 // 1000 seeded resamples by default; 0 = no CIs
  bool include_members = true;                // evaluate each member alone (when members > 1)
  bool untrained = false;                     // some model behind the predictions was never trained
  nlohmann::json source;                      // what was evaluated (models or CSVs, split), copied to the report
};

// The report (JSON):
// {
//   "images", "members", "classes", "positive_classes", "class_counts": {class: n},
//   "untrained": options.untrained (as in derm-classify's JSON),
//   "thresholds": {"policy", "values": {decision: {class: t}}},
//   "bootstrap": {"resamples", "seed", "confidence"},
//   "decisions": {"majority_vote": D, "mean_probability": D},  // majority_vote only when members > 1
//   "member_reports": [D, ...],  // each member alone, when members > 1 and include_members
//   "source": options.source     // when given
// }
// D = {"decision", "accuracy", "confusion_matrix" (rows true, columns predicted,
//      in "classes" order), "mean_auc" (over positive classes),
//      "one_vs_rest": {class: {"score", "auc", "auc_ci", "threshold", "accuracy",
//      "accuracy_ci", "sensitivity", "sensitivity_ci", "specificity",
//      "specificity_ci", "precision", "tp", "fp", "tn", "fn", "positives",
//      "negatives", "bootstrap_resamples_used"}}}
// A CI is [lower, upper] or null; an undefined ratio is null.
// labels: one class index per image, in predictions order. derm::Error when a
// positive class has no positive or no negative image (AUC undefined).
nlohmann::json evaluate(const Predictions& predictions, const std::vector<int>& labels,
                        const EvaluationOptions& options = {});

}  // namespace derm
