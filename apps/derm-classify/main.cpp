// derm-classify: classify dermoscopy images with a model or an ensemble.
#include <cstdio>
#include <cstdlib>

#include "derm/infer/classify.hpp"
#include "derm/core/logging.hpp"
#include "derm/version.hpp"
#include "tool_main.hpp"

namespace {

struct Options {
  derm::ClassifyRequest request;
  bool json = false;
  bool logits = false;
};

}  // namespace

int main(int argc, char** argv) {
  Options options;
  CLI::App app{
      "Classify dermoscopy images (melanoma, seborrheic keratosis, nevus, ...) with a derm model or a\n"
      "majority-vote ensemble. Prints per image the ensemble's majority vote, the mean probability of\n"
      "each class and (with --json) each member's vote. Research use only; not a medical device.",
      "derm-classify"};
  app.set_version_flag("--version", std::string("derm-classify ") + DERM_VERSION);
  auto& r = options.request;
  app.add_option("images", r.images, "Images to classify (JPEG, PNG, TIFF, BMP, WebP), or folders of them (searched recursively)")->required();
  app.add_option("-m,--model", r.classifier.models,
                 "Model file (.safetensors) or ensemble folder; repeat for an ensemble of several files. "
                 "Default: $DERM_MODEL")
      ->allow_extra_args(false);
  app.add_flag("--json", options.json, "Write the results as JSON on stdout");
  app.add_flag("--logits", options.logits, "Also give each member's raw logits");
  app.add_option("--device", r.classifier.device, "cpu, cuda, cuda:N or auto (CUDA when available)")
      ->capture_default_str();
  app.add_option("--threads", r.classifier.threads, "CPU threads for the network (0 = all cores)")
      ->check(derm::cli::at_least(0));
  app.add_flag("!--no-cuda-graphs", r.classifier.cuda_graphs,
               "On CUDA, run each forward pass eagerly instead of replaying it as a recorded CUDA graph");
  app.add_option("--batch-size", r.batch_size, "Images per forward pass")->check(derm::cli::at_least(1))
      ->capture_default_str();
  app.add_option("--tta", r.tta_views,
                 "Test-time augmentation views averaged: 1 (none), 2 (+mirror), 4 (+flips), 8 (+rotations)")
      ->check(CLI::IsMember({1, 2, 4, 8}))
      ->capture_default_str();
  app.add_option("-j,--workers", r.workers, "Image decoding threads")->check(derm::cli::at_least(1))
      ->capture_default_str();
  app.add_option("--heatmap", r.heatmap_dir,
                 "Write a Grad-CAM overlay <image>.<class>.png of every image into this folder (where the networks "
                 "looked)");
  app.add_option("--heatmap-class", r.heatmap_class, "The class of the heatmaps: predicted (the majority vote's) or a "
                                                     "class name")
      ->capture_default_str();
  app.add_option("--heatmap-layer", r.heatmap_layer, "The layer Grad-CAM reads (e.g. Mixed_7c, Mixed_6e)")
      ->capture_default_str();
  app.add_flag("-q,--quiet", r.quiet, "No progress or warnings on stderr");

  const auto run = [&] {
    derm::configure_logging(r.quiet ? derm::Verbosity::quiet : derm::Verbosity::normal);
    if (r.classifier.models.empty()) {
      if (const char* env = std::getenv("DERM_MODEL"); env && *env) r.classifier.models.emplace_back(env);
    }
    const derm::ClassifyResult result = derm::classify_images(r);
    for (const auto& error : result.errors) {
      if (!error.empty()) std::fprintf(stderr, "derm-classify: error: %s\n", error.c_str());
    }
    if (result.untrained && !r.quiet) {
      std::fprintf(stderr, "derm-classify: warning: the model is UNTRAINED; its predictions are meaningless\n");
    }
    if (options.json) {
      std::puts(derm::to_json(result, options.logits).dump(2).c_str());
    } else {
      std::fputs(derm::to_text(result, options.logits).c_str(), stdout);
    }
    const int failed = result.failed();
    if (failed == 0) return derm::cli::kExitOk;
    return failed == static_cast<int>(result.images.size()) ? derm::cli::kExitFailure : derm::cli::kExitPartial;
  };
  return derm::cli::run_tool(app, argc, argv, run,
                             {{"models", "--model"}, {"tta_views", "--tta"}, {"images", "IMAGES"},
                              {"heatmap_dir", "--heatmap"}});
}
