#pragma once
// derm-classify as a library call: images in, one verdict per image out (the
// majority vote and the mean probability of the ensemble, and each member's).
// A bad image is a verdict with an error; the others are still classified.
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "derm/classifier.hpp"
#include "derm/manifest.hpp"
#include "derm/predictions.hpp"

namespace derm {

struct ClassifyRequest {
  ClassifierOptions classifier;
  std::vector<std::filesystem::path> images;
  int batch_size = 8;
  int tta_views = 1;
  int workers = 2;     // image decoding threads
  bool quiet = false;  // no progress on stderr
};

struct ImageVerdict {
  std::filesystem::path image;
  std::string error;                  // empty when classified
  std::vector<MemberOutput> members;  // one per ensemble member
  int majority_class = -1;            // ties: higher mean probability wins
  int mean_probability_class = -1;
  std::vector<int> member_classes;    // each member's vote: its argmax class
  std::vector<int> votes;             // per class: members voting for it
  std::vector<double> mean_probabilities;
};

struct ClassifyResult {
  std::vector<std::string> classes;
  std::vector<std::filesystem::path> models;
  std::string device;
  bool untrained = false;  // some member has never been trained
  int tta_views = 1;
  std::vector<ImageVerdict> images;

  int failed() const;
};

ClassifyResult classify_images(const ClassifyRequest& request);

nlohmann::json to_json(const ClassifyResult& result, bool include_logits);

// Every member's probabilities for manifest entries (ids = entry ids), images
// decoded on `workers` threads. An unreadable image is a derm::Error: a
// manifest from derm-prep holds only readable ones.
Predictions predict_entries(Classifier& classifier, const std::vector<ManifestEntry>& entries, int batch_size,
                            int tta_views, int workers, bool quiet);
std::string to_text(const ClassifyResult& result, bool include_logits);

}  // namespace derm
