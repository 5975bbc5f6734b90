#include "derm/eval/evaluation.hpp"

#include <algorithm>
#include <cmath>

#include "decisions.hpp"

namespace derm {
namespace {

using nlohmann::json;

json number_or_null(double value) { return std::isfinite(value) ? json(value) : json(nullptr); }

json interval_or_null(const ConfidenceInterval& interval) {
  if (!std::isfinite(interval.lower) || !std::isfinite(interval.upper)) return nullptr;
  return json::array({interval.lower, interval.upper});
}

json one_vs_rest_report(const Predictions& source, const detail::NamedDecision& decision, int class_index,
                        const std::vector<int>& labels, double threshold, const BootstrapOptions& bootstrap) {
  const std::vector<bool> positive = detail::is_class(labels, class_index);
  const std::vector<double> scores = one_vs_rest_scores(source, decision.rule, class_index);
  const std::vector<bool> decided = one_vs_rest_decisions(source, decision.rule, class_index, threshold);
  const double auc = auc_roc(scores, positive);
  const BinaryCounts counts = binary_counts(decided, positive);
  const BinaryMetricIntervals intervals = bootstrap_binary_metrics(scores, decided, positive, bootstrap);
  return {
      {"score", decision.score_name},
      {"auc", auc},
      {"auc_ci", interval_or_null(intervals.auc)},
      {"threshold", threshold},
      {"accuracy", number_or_null(counts.accuracy())},
      {"accuracy_ci", interval_or_null(intervals.accuracy)},
      {"sensitivity", number_or_null(counts.sensitivity())},
      {"sensitivity_ci", interval_or_null(intervals.sensitivity)},
      {"specificity", number_or_null(counts.specificity())},
      {"specificity_ci", interval_or_null(intervals.specificity)},
      {"precision", number_or_null(counts.precision())},
      {"tp", counts.tp},
      {"fp", counts.fp},
      {"tn", counts.tn},
      {"fn", counts.fn},
      {"positives", counts.tp + counts.fn},
      {"negatives", counts.tn + counts.fp},
      {"bootstrap_resamples_used", intervals.resamples_used},
  };
}

json decision_report(const Predictions& predictions, const detail::NamedDecision& decision,
                     const std::vector<int>& labels, const std::vector<int>& positive_classes,
                     const EvaluationOptions& options) {
  const Predictions source = detail::predictions_of(predictions, decision);
  const std::vector<int> predicted = predicted_classes(source, decision.rule);
  json one_vs_rest = json::object();
  double auc_sum = 0;
  for (const int c : positive_classes) {
    const std::string& class_name = predictions.classes[c];
    const double threshold =
        options.thresholds ? options.thresholds->at(decision.name, class_name) : options.fixed_threshold;
    try {
      one_vs_rest[class_name] = one_vs_rest_report(source, decision, c, labels, threshold, options.bootstrap);
    } catch (const Error& e) {
      throw Error("evaluating " + decision.name + " for class " + class_name + ": " + e.what());
    }
    auc_sum += one_vs_rest[class_name]["auc"].get<double>();
  }
  return {
      {"decision", decision.name},
      {"accuracy", multiclass_accuracy(labels, predicted)},
      {"confusion_matrix", confusion_matrix(labels, predicted, static_cast<int>(predictions.classes.size()))},
      {"mean_auc", auc_sum / static_cast<double>(positive_classes.size())},
      {"one_vs_rest", one_vs_rest},
  };
}

}  // namespace

nlohmann::json evaluate(const Predictions& predictions, const std::vector<int>& labels,
                        const EvaluationOptions& options) {
  check_predictions(predictions);
  detail::check_labels(labels, predictions, "evaluation");
  const std::vector<int> positive_classes = detail::positive_class_indices(predictions.classes, options.positive_classes);

  json class_counts = json::object();
  for (std::size_t c = 0; c < predictions.classes.size(); ++c) {
    class_counts[predictions.classes[c]] = std::count(labels.begin(), labels.end(), static_cast<int>(c));
  }
  json positive_names = json::array();
  for (const int c : positive_classes) positive_names.push_back(predictions.classes[c]);

  json decisions = json::object();
  json members = json::array();
  Thresholds used;
  used.policy = options.thresholds ? options.thresholds->policy : fixed_threshold_policy(options.fixed_threshold);
  for (const detail::NamedDecision& decision : detail::decisions_of(predictions, options.include_members)) {
    json report = decision_report(predictions, decision, labels, positive_classes, options);
    for (const int c : positive_classes) {
      const std::string& name = predictions.classes[c];
      used.values[decision.name][name] = report["one_vs_rest"][name]["threshold"].get<double>();
    }
    if (decision.member) {
      members.push_back(std::move(report));
    } else {
      decisions[decision.name] = std::move(report);
    }
  }

  nlohmann::json report{
      {"images", predictions.images()},
      {"members", predictions.members()},
      {"classes", predictions.classes},
      {"positive_classes", positive_names},
      {"class_counts", class_counts},
      {"untrained", options.untrained},
      {"thresholds", used.to_json()},
      {"bootstrap",
       {{"resamples", options.bootstrap.resamples},
        {"seed", options.bootstrap.seed},
        {"confidence", options.bootstrap.confidence}}},
      {"decisions", decisions},
      {"member_reports", members},
  };
  if (!options.source.is_null()) report["source"] = options.source;
  return report;
}

}  // namespace derm
