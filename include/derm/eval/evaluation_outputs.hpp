#pragma once
// What derm-eval writes: one call per evaluation.
#include <filesystem>
#include <optional>

#include <nlohmann/json.hpp>

#include "derm/eval/evaluation.hpp"
#include "derm/metrics/predictions.hpp"
#include "derm/eval/ground_truth.hpp"
#include "derm/eval/predictions_csv.hpp"

namespace derm {

// Evaluates (derm::evaluate) and writes into out_dir (created if needed) as
// one set: every file is written under a staged name first and they are all
// renamed into place only once all were written (derm::StagedFiles), so a
// failure leaves none of them:
// - report.json: the report, pretty-printed;
// - predictions.csv: the mean probabilities of the positive classes (the ISIC
//   2017 submission format for ISIC 2017 classes);
// - roc_<class>.png: per positive class, one ROC curve per decision rule
//   (majority vote and mean probability; the probability for a single model).
// Returns the report. labels: one class index per image, in predictions order
// (see match_labels).
nlohmann::json write_evaluation_outputs(const std::filesystem::path& out_dir, const Predictions& predictions,
                                        const std::vector<int>& labels, const EvaluationOptions& options = {});

// "Score an existing predictions CSV": reads it for the ground truth's
// classes, matches ids (derm::Error on missing or extra ids), evaluates, and,
// given out_dir, also writes the outputs above. Returns the report.
nlohmann::json score_predictions_csv(const std::filesystem::path& predictions_csv, const GroundTruth& ground_truth,
                                     const EvaluationOptions& options = {},
                                     const std::optional<std::filesystem::path>& out_dir = std::nullopt);

}  // namespace derm
