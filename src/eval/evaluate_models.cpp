#include "derm/eval/evaluate_models.hpp"

#include <sstream>

#include <spdlog/spdlog.h>

#include "derm/infer/classify.hpp"
#include "derm/core/error.hpp"
#include "derm/eval/evaluation_outputs.hpp"
#include "derm/eval/ground_truth.hpp"
#include "derm/eval/predictions_csv.hpp"
#include "derm/model/tensor_image.hpp"
#include "sharded_predictions.hpp"

namespace derm {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

GroundTruth ground_truth_for(const EvalRequest& r, const Manifest* manifest, const std::string& split) {
  if (manifest) return ground_truth_from_manifest(*manifest, split);
  return read_isic2017_ground_truth(*r.isic2017_ground_truth);
}

void check_request(const EvalRequest& r) {
  const bool models = !r.classifier.models.empty();
  const bool csvs = !r.predictions_csvs.empty();
  if (models == csvs) {
    throw OptionError("models",
                      "give either {models} (to run networks) or {predictions_csvs} (to score CSVs), not both or neither");
  }
  if (!r.val_predictions_csvs.empty() && r.val_predictions_csvs.size() != r.predictions_csvs.size()) {
    throw OptionError("val_predictions_csvs", ": " + std::to_string(r.val_predictions_csvs.size()) + " file(s) for " +
                                                  std::to_string(r.predictions_csvs.size()) +
                                                  " {predictions_csvs} file(s); give one per member, in the same order");
  }
  if (r.manifest.has_value() == r.isic2017_ground_truth.has_value()) {
    throw OptionError("manifest", "give the ground truth as either {manifest} (with {split}) or {isic2017_ground_truth}");
  }
  if (models && !r.manifest) throw OptionError("models", "needs {manifest}: the images to classify come from it");
  if (r.out_dir.empty()) throw OptionError("out_dir", "is required");
  if (r.thresholds.policy != ThresholdPolicy::fixed) {
    if (models && r.val_split == r.split) {
      throw OptionError("val_split", "'" + r.val_split + "' is the evaluated split: thresholds must come from other data");
    }
    if (csvs && r.val_predictions_csvs.empty()) {
      throw OptionError("threshold_policy", name_of(r.thresholds.policy) +
                                                " on a predictions CSV needs {val_predictions_csvs} and a manifest with "
                                                "the validation split");
    }
    if (csvs && !r.manifest) {
      throw OptionError("val_predictions_csvs", "needs {manifest} for the validation labels");
    }
  }
}

}  // namespace

json run_evaluation(const EvalRequest& request) {
  check_request(request);
  EvalRequest r = request;
  const LaunchInfo launch = launch_info_from_environment();
  std::unique_ptr<ProcessGroup> group;
  if (launch.distributed() && !r.classifier.models.empty()) {
    torch::Device device = parse_device(r.classifier.device);
    if (device.is_cuda()) {
      device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(launch.local_rank));
      r.classifier.device = device.str();
    }
    if (launch.rank != 0) {
      r.quiet = true;
      spdlog::set_level(spdlog::level::warn);
    }
    group = std::make_unique<ProcessGroup>(
        launch, r.dist_backend, device,
        std::chrono::milliseconds(static_cast<std::int64_t>(r.dist_timeout_seconds * 1000)));
  }
  const auto predict = [&](Classifier& classifier, const std::vector<ManifestEntry>& entries) {
    if (group) return predict_entries_across(*group, classifier, entries, r.batch_size, r.tta_views, r.workers, r.quiet);
    return predict_entries(classifier, entries, r.batch_size, r.tta_views, r.workers, r.quiet);
  };
  std::optional<Manifest> manifest;
  if (r.manifest) manifest = read_manifest(*r.manifest);
  const Manifest* m = manifest ? &*manifest : nullptr;
  const GroundTruth truth = ground_truth_for(r, m, r.split);

  EvaluationOptions options = r.evaluation;
  Predictions predictions;
  std::vector<fs::path> model_files;
  if (!r.predictions_csvs.empty()) {
    predictions = read_member_predictions_csvs(r.predictions_csvs, truth.classes);
    if (r.thresholds.policy != ThresholdPolicy::fixed) {
      const GroundTruth val_truth = ground_truth_from_manifest(*manifest, r.val_split);
      const Predictions val = read_member_predictions_csvs(r.val_predictions_csvs, val_truth.classes);
      options.thresholds =
          choose_thresholds(val, match_labels(val, val_truth), r.thresholds, options.positive_classes);
    }
  } else {
    Classifier classifier(r.classifier);
    model_files = classifier.member_paths();
    if (classifier.classes() != truth.classes) {
      throw Error("the model's classes differ from the manifest's (" + r.manifest->string() + ")");
    }
    options.untrained |= classifier.untrained();
    if (options.untrained) spdlog::warn("the model is UNTRAINED; its metrics are meaningless");
    if (r.thresholds.policy != ThresholdPolicy::fixed) {
      spdlog::info("choosing thresholds ({}) on split '{}'", name_of(r.thresholds.policy), r.val_split);
      const auto val_entries = manifest->split(r.val_split);
      const Predictions val = predict(classifier, val_entries);
      options.thresholds = choose_thresholds(val, match_labels(val, ground_truth_from_manifest(*manifest, r.val_split)),
                                             r.thresholds, options.positive_classes);
    }
    predictions = predict(classifier, manifest->split(r.split));
  }
  if (r.thresholds.policy == ThresholdPolicy::fixed) options.fixed_threshold = r.thresholds.fixed_threshold;
  const auto file_names = [](const std::vector<fs::path>& paths) {
    json names = json::array();
    for (const auto& path : paths) names.push_back(path.string());
    return names;
  };
  json source = r.predictions_csvs.empty()
                    ? json{{"models", file_names(model_files)}, {"tta_views", r.tta_views}}
                    : json{{"predictions_csvs", file_names(r.predictions_csvs)}};
  if (!r.val_predictions_csvs.empty()) source["val_predictions_csvs"] = file_names(r.val_predictions_csvs);
  source["split"] = r.split;
  if (r.manifest) source["manifest"] = r.manifest->string();
  if (r.isic2017_ground_truth) source["ground_truth"] = r.isic2017_ground_truth->string();
  options.source = source;
  if (launch.rank != 0) return json();
  return write_evaluation_outputs(r.out_dir, predictions, match_labels(predictions, truth), options);
}

std::string summarize_report(const json& report) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(3);
  out << report.at("images").get<int>() << " images, " << report.at("members").get<int>() << " member(s)\n";
  const auto ci = [](const json& interval) {
    if (!interval.is_array()) return std::string();
    char text[40];
    std::snprintf(text, sizeof text, " [%.3f, %.3f]", interval[0].get<double>(), interval[1].get<double>());
    return std::string(text);
  };
  const auto number = [](const json& value) {
    if (!value.is_number()) return std::string("n/a");
    char text[16];
    std::snprintf(text, sizeof text, "%.3f", value.get<double>());
    return std::string(text);
  };
  for (const auto& [rule, d] : report.at("decisions").items()) {
    out << rule << ": accuracy " << number(d.at("accuracy")) << ", mean AUC " << number(d.at("mean_auc")) << "\n";
    for (const auto& [name, c] : d.at("one_vs_rest").items()) {
      out << "  " << name << " vs rest: AUC " << number(c.at("auc")) << ci(c.value("auc_ci", json())) << "  accuracy "
          << number(c.at("accuracy")) << "  sensitivity " << number(c.at("sensitivity")) << "  specificity "
          << number(c.at("specificity")) << "  (threshold " << number(c.at("threshold")) << ")\n";
    }
  }
  return out.str();
}

}  // namespace derm
