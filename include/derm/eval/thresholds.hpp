#pragma once
// Decision thresholds of every decision rule and positive class: fixed, or
// chosen on validation predictions and then applied unchanged to test ones.
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "derm/core/enum_names.hpp"
#include "derm/metrics/predictions.hpp"

namespace derm {

enum class ThresholdPolicy {
  fixed,               // the same fixed value for every decision and class
  youden,              // maximises sensitivity + specificity - 1 on validation
  target_sensitivity,  // most specific threshold with sensitivity >= target on validation
};

template <>
struct EnumNames<ThresholdPolicy> {
  static constexpr const char* what = "threshold policy";
  static constexpr EnumName<ThresholdPolicy> names[] = {{ThresholdPolicy::fixed, "fixed"},
                                                        {ThresholdPolicy::youden, "youden"},
                                                        {ThresholdPolicy::target_sensitivity, "target_sensitivity"}};
};

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

}  // namespace derm
