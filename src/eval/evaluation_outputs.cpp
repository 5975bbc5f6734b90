#include "derm/eval/evaluation_outputs.hpp"

#include <algorithm>
#include <cctype>

#include "decisions.hpp"
#include "derm/core/atomic_file.hpp"
#include "derm/core/json_file.hpp"
#include "derm/eval/roc_plot.hpp"

namespace derm {
namespace {

namespace fs = std::filesystem;

std::string readable(std::string name) {
  std::replace(name.begin(), name.end(), '_', ' ');
  return name;
}

std::string file_safe(std::string name) {
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_') ch = '_';
  }
  return name;
}

void write_roc_plots(StagedFiles& outputs, const fs::path& out_dir, const Predictions& predictions,
                     const std::vector<int>& labels, const EvaluationOptions& options) {
  for (const int c : detail::positive_class_indices(predictions.classes, options.positive_classes)) {
    const std::vector<bool> positive = detail::is_class(labels, c);
    std::vector<RocSeries> series;
    for (const detail::NamedDecision& decision : detail::decisions_of(predictions, false)) {
      const std::vector<double> scores = one_vs_rest_scores(predictions, decision.rule, c);
      const std::string label = predictions.members() > 1 ? readable(decision.name) : "model";
      series.push_back({label, roc_curve(scores, positive), auc_roc(scores, positive)});
    }
    const std::string title = "ROC: " + readable(predictions.classes[c]) + " vs rest (" +
                              std::to_string(predictions.images()) + " images)";
    outputs.write(out_dir / ("roc_" + file_safe(predictions.classes[c]) + ".png"),
                  [&](const fs::path& path) { write_roc_plot(path, title, series); });
  }
}

}  // namespace

nlohmann::json write_evaluation_outputs(const fs::path& out_dir, const Predictions& predictions,
                                        const std::vector<int>& labels, const EvaluationOptions& options) {
  const nlohmann::json report = evaluate(predictions, labels, options);
  StagedFiles outputs;
  outputs.write(out_dir / "report.json", [&](const fs::path& path) {
    write_json_file(path, report);
  });
  outputs.write(out_dir / "predictions.csv", [&](const fs::path& path) { write_predictions_csv(path, predictions); });
  write_roc_plots(outputs, out_dir, predictions, labels, options);
  outputs.commit();
  return report;
}

nlohmann::json score_predictions_csv(const fs::path& predictions_csv, const GroundTruth& ground_truth,
                                     const EvaluationOptions& options, const std::optional<fs::path>& out_dir) {
  const Predictions predictions = read_predictions_csv(predictions_csv, ground_truth.classes);
  std::vector<int> labels;
  try {
    labels = match_labels(predictions, ground_truth);
  } catch (const Error& e) {
    throw Error(predictions_csv.string() + ": " + e.what());
  }
  if (out_dir) return write_evaluation_outputs(*out_dir, predictions, labels, options);
  return evaluate(predictions, labels, options);
}

}  // namespace derm
