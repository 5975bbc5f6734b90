#pragma once
// Ground truth: a derm manifest split, or an ISIC 2017 Part 3 ground-truth CSV
// (`image_id,melanoma,seborrheic_keratosis`, 1.0/0.0, neither = nevus), and
// the labels of predicted images by their ids.
#include <filesystem>
#include <string>
#include <vector>

#include "derm/data/manifest.hpp"
#include "derm/metrics/predictions.hpp"

namespace derm {

struct GroundTruth {
  std::vector<std::string> classes;  // last = negative (rest) class
  std::vector<std::string> ids;
  std::vector<int> labels;  // class index per id
};

// ISIC 2017 Part 3 ground truth; classes melanoma, seborrheic_keratosis, nevus.
// A UTF-8 byte-order mark is skipped.
GroundTruth read_isic2017_ground_truth(const std::filesystem::path& path);

// The entries of one split of a manifest (derm::Error when it has none).
GroundTruth ground_truth_from_manifest(const Manifest& manifest, const std::string& split);
// read_manifest(path) then ground_truth_from_manifest.
GroundTruth read_manifest_ground_truth(const std::filesystem::path& manifest_path, const std::string& split);

// The label of every predicted image, in predictions order. derm::Error when
// the class lists differ, or when ids are missing from the predictions or have
// no ground truth (the message counts them and lists the first few).
std::vector<int> match_labels(const Predictions& predictions, const GroundTruth& ground_truth);

}  // namespace derm
