#include "derm/eval/thresholds.hpp"

#include <sstream>
#include <string>

#include "decisions.hpp"
#include "derm/metrics/metrics.hpp"

namespace derm {
namespace {

std::string short_number(double value) {
  std::ostringstream text;
  text << value;
  return text.str();
}

}  // namespace

std::string fixed_threshold_policy(double threshold) { return "fixed " + short_number(threshold); }

double Thresholds::at(const std::string& decision, const std::string& class_name) const {
  const auto by_decision = values.find(decision);
  if (by_decision != values.end()) {
    const auto by_class = by_decision->second.find(class_name);
    if (by_class != by_decision->second.end()) return by_class->second;
  }
  throw Error("no threshold for decision '" + decision + "' and class '" + class_name + "' (thresholds: " + policy +
              ")");
}

nlohmann::json Thresholds::to_json() const {
  nlohmann::json by_decision = nlohmann::json::object();
  for (const auto& [decision, by_class] : values) {
    for (const auto& [class_name, threshold] : by_class) by_decision[decision][class_name] = threshold;
  }
  return {{"policy", policy}, {"values", by_decision}};
}

Thresholds choose_thresholds(const Predictions& validation, const std::vector<int>& validation_labels,
                             const ThresholdOptions& options, const std::vector<std::string>& positive_classes) {
  check_predictions(validation);
  detail::check_labels(validation_labels, validation, "validation");
  Thresholds thresholds;
  switch (options.policy) {
    case ThresholdPolicy::fixed: thresholds.policy = fixed_threshold_policy(options.fixed_threshold); break;
    case ThresholdPolicy::youden:
      thresholds.policy = "youden on validation (" + std::to_string(validation.images()) + " images)";
      break;
    case ThresholdPolicy::target_sensitivity:
      thresholds.policy = "target_sensitivity " + short_number(options.target_sensitivity) + " on validation (" +
                          std::to_string(validation.images()) + " images)";
      break;
  }
  for (const detail::NamedDecision& decision : detail::decisions_of(validation, true)) {
    const Predictions source = detail::predictions_of(validation, decision);
    for (const int c : detail::positive_class_indices(validation.classes, positive_classes)) {
      const std::string& class_name = validation.classes[c];
      double threshold = options.fixed_threshold;
      if (options.policy != ThresholdPolicy::fixed) {
        const std::vector<double> scores = decision_scores(source, decision.rule, c);
        const std::vector<bool> positive = detail::is_class(validation_labels, c);
        try {
          threshold = options.policy == ThresholdPolicy::youden
                          ? youden_threshold(scores, positive)
                          : threshold_for_sensitivity(scores, positive, options.target_sensitivity);
        } catch (const Error& e) {
          throw Error("choosing the " + decision.name + " threshold of class " + class_name + " on validation: " +
                      e.what());
        }
      }
      thresholds.values[decision.name][class_name] = threshold;
    }
  }
  return thresholds;
}

}  // namespace derm
