// derm-eval: accuracy, sensitivity, specificity, AUC-ROC with confidence
// intervals and ROC plots, for a model, an ensemble or a predictions CSV.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "derm/eval/evaluate_models.hpp"
#include "derm/core/logging.hpp"
#include "derm/version.hpp"
#include "tool_main.hpp"

namespace {

// A number in [0, 1]; unlike CLI::Range it refuses nan.
const CLI::Validator kProbability(
    [](std::string& text) {
      char* end = nullptr;
      const double value = std::strtod(text.c_str(), &end);
      const bool number = !text.empty() && *end == '\0';
      return number && value >= 0.0 && value <= 1.0 ? std::string() : "'" + text + "' is not a number in [0, 1]";
    },
    "in [0, 1]");

struct CommandLine {
  derm::EvalRequest request;
  std::string manifest;
  std::string ground_truth;
  std::string policy = "fixed";
  std::string dist_backend = "auto";
  bool json = false;
};

}  // namespace

int main(int argc, char** argv) {
  CommandLine cl;
  auto& r = cl.request;
  CLI::App app{
      "Evaluates a derm model or ensemble on a held-out manifest split, or scores an existing predictions CSV\n"
      "(ISIC 2017 submission format image_id,melanoma,seborrheic_keratosis, or id,probability) against\n"
      "ground truth. Per positive class one-vs-rest: AUC-ROC (exact, ties handled), accuracy, sensitivity,\n"
      "specificity with bootstrap 95% CIs, for the majority vote, the mean probability and each member.\n"
      "Writes report.json, predictions.csv and roc_<class>.png into --out.",
      "derm-eval"};
  app.set_version_flag("--version", std::string("derm-eval ") + DERM_VERSION);
  app.add_option("-m,--model", r.classifier.models, "Model file or ensemble folder (repeatable)")
      ->allow_extra_args(false)
      ->group("Input");
  app.add_option("--predictions", r.predictions_csvs,
                 "Score this predictions CSV instead of running a model; repeated: one member's each, combined\n"
                 "into an ensemble (e.g. members evaluated apart)")
      ->allow_extra_args(false)
      ->group("Input");
  app.add_option("--manifest", cl.manifest, "Manifest with the images and labels")->group("Input");
  app.add_option("--split", r.split, "Split to evaluate")->capture_default_str()->group("Input");
  app.add_option("--ground-truth", cl.ground_truth, "ISIC 2017 Part 3 ground-truth CSV (with --predictions)")
      ->group("Input");
  app.add_option("-o,--out", r.out_dir, "Folder for report.json, predictions.csv, roc_<class>.png")->required()
      ->group("Output");
  app.add_flag("--json", cl.json, "Print the report as JSON on stdout")->group("Output");

  app.add_option("--threshold", r.thresholds.fixed_threshold, "Fixed decision threshold")->capture_default_str()
      ->check(kProbability)->group("Decision");
  app.add_option("--threshold-policy", cl.policy,
                 "fixed, youden, or target_sensitivity (the last two chosen on --val-split, then applied)")
      ->capture_default_str()
      ->check(derm::cli::enum_name<derm::ThresholdPolicy>())
      ->group("Decision");
  app.add_option("--target-sensitivity", r.thresholds.target_sensitivity, "For target_sensitivity")
      ->capture_default_str()->check(kProbability)->group("Decision");
  app.add_option("--val-split", r.val_split, "Split the thresholds are chosen on")->capture_default_str()
      ->group("Decision");
  app.add_option("--val-predictions", r.val_predictions_csvs,
                 "Validation predictions CSV (with --predictions; one per member, in the same order)")
      ->allow_extra_args(false)
      ->group("Decision");
  app.add_option("--positive", r.evaluation.positive_classes,
                 "Positive classes (default: all but the last, e.g. melanoma seborrheic_keratosis)")
      ->delimiter(',')->group("Decision");
  app.add_option("--bootstrap", r.evaluation.bootstrap.resamples, "Bootstrap resamples for the CIs (0 = none)")
      ->capture_default_str()->check(derm::cli::at_least(0))->group("Decision");
  app.add_option("--seed", r.evaluation.bootstrap.seed, "Bootstrap seed")->check(derm::cli::at_least(0))
      ->capture_default_str()->group("Decision");

  app.add_option("--tta", r.tta_views, "Test-time augmentation views: 1, 2, 4 or 8")->capture_default_str()
      ->check(CLI::IsMember({1, 2, 4, 8}))->group("Run");
  app.add_option("--device", r.classifier.device, "cpu, cuda, cuda:N or auto")->capture_default_str()->group("Run");
  app.add_option("--threads", r.classifier.threads, "CPU threads for the network (0 = all cores)")->group("Run");
  app.add_flag("!--no-cuda-graphs", r.classifier.cuda_graphs,
               "On CUDA, run each forward pass eagerly instead of replaying a recorded CUDA graph")->group("Run");
  app.add_option("-j,--workers", r.workers, "Image decoding threads")->capture_default_str()
      ->check(derm::cli::at_least(1))->group("Run");
  app.add_option("-b,--batch-size", r.batch_size, "Images per forward pass")->capture_default_str()
      ->check(derm::cli::at_least(1))->group("Run");
  app.add_flag("-q,--quiet", r.quiet, "No progress or logs on stderr")->group("Run");
  app.add_option("--dist-backend", cl.dist_backend,
                 "Under torchrun or srun (the images shared between the ranks): auto, nccl or gloo")
      ->capture_default_str()->check(derm::cli::enum_name<derm::DistBackend>())->group("Distributed");
  app.add_option("--dist-timeout", r.dist_timeout_seconds,
                 "Seconds a rank may stop responding before the others stop, naming it")
      ->capture_default_str()->check(CLI::PositiveNumber)->group("Distributed");

  const auto run = [&] {
    derm::configure_logging(r.quiet ? derm::Verbosity::quiet : derm::Verbosity::normal);
    if (!cl.manifest.empty()) r.manifest = cl.manifest;
    if (!cl.ground_truth.empty()) r.isic2017_ground_truth = cl.ground_truth;
    r.thresholds.policy = derm::parse_enum<derm::ThresholdPolicy>(cl.policy, "threshold_policy");
    r.dist_backend = derm::parse_enum<derm::DistBackend>(cl.dist_backend, "dist_backend");
    const auto report = derm::run_evaluation(r);
    if (report.is_null()) return derm::cli::kExitOk;  // a rank other than 0: rank 0 reports
    if (cl.json) {
      std::puts(report.dump(2).c_str());
    } else {
      std::fputs(derm::summarize_report(report).c_str(), stdout);
      std::printf("written to %s\n", r.out_dir.string().c_str());
    }
    return derm::cli::kExitOk;
  };
  return derm::cli::run_tool(app, argc, argv, run,
                             {{"models", "--model"},
                              {"predictions_csvs", "--predictions"},
                              {"val_predictions_csvs", "--val-predictions"},
                              {"isic2017_ground_truth", "--ground-truth"},
                              {"positive_classes", "--positive"},
                              {"tta_views", "--tta"},
                              {"out_dir", "--out"},
                              {"dist_timeout_seconds", "--dist-timeout"}});
}
