#pragma once
// derm-eval as a library call: predictions (from models or from a CSV) against
// ground truth, thresholds from a validation split, report and plots written.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "derm/distributed/launch.hpp"
#include "derm/eval/evaluation.hpp"
#include "derm/infer/classifier.hpp"

namespace derm {

struct EvalRequest {
  // Either models (classifier.models) or existing predictions CSVs, one per
  // member (read_member_predictions_csvs).
  ClassifierOptions classifier;
  std::vector<std::filesystem::path> predictions_csvs;
  // Thresholds for scored CSVs: the same members' validation predictions, in the same order.
  std::vector<std::filesystem::path> val_predictions_csvs;

  // Ground truth: a manifest split, or an ISIC 2017 Part 3 ground-truth CSV.
  std::optional<std::filesystem::path> manifest;
  std::string split = "test";
  std::optional<std::filesystem::path> isic2017_ground_truth;

  // Thresholds other than fixed are chosen on val_split (models) or on
  // val_predictions_csv, never on the evaluated split.
  ThresholdOptions thresholds;
  std::string val_split = "val";
  EvaluationOptions evaluation;

  std::filesystem::path out_dir;  // report.json, predictions.csv, roc_<class>.png
  int batch_size = 16;
  int tta_views = 1;
  int workers = 2;
  bool quiet = false;

  // Started as one rank of several (torchrun, srun): the models' images are
  // shared between the ranks, whose predictions are gathered.
  DistBackend dist_backend = DistBackend::automatic;
  double dist_timeout_seconds = 600;
};

// The report, which rank 0 of a distributed run (or a process alone) writes
// and returns; the other ranks return null.
nlohmann::json run_evaluation(const EvalRequest& request);

// A few lines for a person: per decision rule and positive class, AUC with its
// CI, accuracy, sensitivity and specificity.
std::string summarize_report(const nlohmann::json& report);

}  // namespace derm
