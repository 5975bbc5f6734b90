#pragma once
// derm-classify as a library call: images in, one verdict per image out (the
// majority vote and the mean probability of the ensemble, and each member's).
// A bad image is a verdict with an error; the others are still classified.
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "derm/data/manifest.hpp"
#include "derm/infer/classifier.hpp"
#include "derm/infer/heatmap.hpp"
#include "derm/metrics/ensemble.hpp"
#include "derm/metrics/predictions.hpp"

namespace derm {

struct ClassifyRequest {
  ClassifierOptions classifier;
  std::vector<std::filesystem::path> images;  // files, or folders of them (searched recursively)
  int batch_size = 8;
  int tta_views = 1;
  int workers = 2;     // image decoding threads; batch k + 1 is decoded while batch k is classified
  bool quiet = false;  // no progress on stderr
  // Grad-CAM heatmaps (Classifier::heatmap) of every classified image, as
  // overlays <image stem>.<class>.png in this folder; none when empty.
  std::filesystem::path heatmap_dir;
  std::string heatmap_class = "predicted";  // a class name, or the majority vote's class
  std::string heatmap_layer = "Mixed_7c";
};

struct ImageHeatmap {
  Heatmap heatmap;
  cv::Mat overlay;             // heatmap_overlay of the image
  std::filesystem::path file;  // where the overlay was written; empty when it was not
};

struct ClassifyResult {
  std::vector<std::string> classes;
  std::vector<std::filesystem::path> models;
  std::string device;
  bool untrained = false;  // some member has never been trained
  int tta_views = 1;
  // Every image asked for, in order, with the reason it could not be
  // classified (empty when it was).
  std::vector<std::filesystem::path> images;
  std::vector<std::string> errors;
  // The classified images alone, in the same order (ids = their paths), and
  // the ensemble's decisions on them.
  Predictions predictions;
  EnsembleDecisions decisions;
  // Per classified image (predictions order), when heatmaps were asked for.
  std::vector<ImageHeatmap> heatmaps;

  int failed() const;
  // The images of `more` (from the same classifier) after these.
  void append(const ClassifyResult& more);
};

ClassifyResult classify_images(const ClassifyRequest& request);

// The verdicts on `images`: `predictions` (by `classifier`) of those whose
// `errors` entry is empty, in order, and the errors of the others.
ClassifyResult make_result(const Classifier& classifier, std::vector<std::filesystem::path> images,
                           std::vector<std::string> errors, Predictions predictions, int tta_views);

// Adds the heatmap of every classified image of `result` (decoded as
// `classified_rgb`, in predictions order) for `heatmap_class`: a class name,
// or "predicted" for the majority vote's class. Overlays not written.
void add_heatmaps(ClassifyResult& result, Classifier& classifier, const std::vector<cv::Mat>& classified_rgb,
                  const std::string& heatmap_class, const std::string& heatmap_layer);

// The class a heatmap is asked for; OptionError("heatmap_class") for a name
// that is neither "predicted" nor one of `classes`.
void check_heatmap_class(const std::string& heatmap_class, const std::vector<std::string>& classes);

// As derm-classify --json prints it; each heatmap as its class, layer, the
// members' maps at the layer's resolution ("cam") and its file when written.
nlohmann::json to_json(const ClassifyResult& result, bool include_logits);
std::string to_text(const ClassifyResult& result, bool include_logits);

// Every member's probabilities for manifest entries (ids = entry ids), images
// decoded on `workers` threads, each batch while the one before is classified
// (as classify_images does). An unreadable image is a derm::Error: a
// manifest from derm-prep holds only readable ones.
Predictions predict_entries(Classifier& classifier, const std::vector<ManifestEntry>& entries, int batch_size,
                            int tta_views, int workers, bool quiet);

}  // namespace derm
