#pragma once
// The evaluation report of an ensemble's predictions against true labels.
//
// "Decisions" are the ensemble's decision rules (majority_vote,
// mean_probability; see derm/metrics/ensemble.hpp) and each member alone
// ("member_0", "member_1", ...). Every positive class (default: all classes but
// the last) is evaluated one-vs-rest at a threshold per decision and class:
// fixed (default 0.5), or chosen on validation predictions by choose_thresholds
// and then applied unchanged to the test predictions.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "derm/metrics/bootstrap.hpp"
#include "derm/metrics/metrics.hpp"
#include "derm/eval/thresholds.hpp"
#include "derm/metrics/predictions.hpp"

namespace derm {

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
