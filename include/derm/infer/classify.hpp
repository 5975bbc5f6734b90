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
#include "derm/metrics/ensemble.hpp"
#include "derm/metrics/predictions.hpp"

namespace derm {

struct ClassifyRequest {
  ClassifierOptions classifier;
  std::vector<std::filesystem::path> images;  // files, or folders of them (searched recursively)
  int batch_size = 8;
  int tta_views = 1;
  int workers = 2;     // image decoding threads
  bool quiet = false;  // no progress on stderr
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

  int failed() const;
};

ClassifyResult classify_images(const ClassifyRequest& request);

nlohmann::json to_json(const ClassifyResult& result, bool include_logits);
std::string to_text(const ClassifyResult& result, bool include_logits);

// Every member's probabilities for manifest entries (ids = entry ids), images
// decoded on `workers` threads. An unreadable image is a derm::Error: a
// manifest from derm-prep holds only readable ones.
Predictions predict_entries(Classifier& classifier, const std::vector<ManifestEntry>& entries, int batch_size,
                            int tta_views, int workers, bool quiet);

}  // namespace derm
