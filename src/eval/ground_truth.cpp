#include "derm/eval/ground_truth.hpp"

#include <unordered_map>
#include <unordered_set>

#include "csv_lines.hpp"
#include "derm/core/error.hpp"
#include "derm/core/text.hpp"

namespace derm {
namespace fs = std::filesystem;
using detail::first_few;
using detail::parse_probability;
using detail::read_lines;
using detail::split_fields;

GroundTruth read_isic2017_ground_truth(const fs::path& path) {
  const auto lines = read_lines(path);
  const std::string expected = "image_id,melanoma,seborrheic_keratosis";
  if (lines.front().second != expected) {
    throw Error(path.string() + ": header '" + lines.front().second + "', expected '" + expected + "'");
  }
  GroundTruth truth;
  truth.classes = {"melanoma", "seborrheic_keratosis", "nevus"};
  std::unordered_set<std::string> seen;
  for (std::size_t k = 1; k < lines.size(); ++k) {
    const auto& [number, line] = lines[k];
    const std::vector<std::string> fields = split_fields(line);
    const std::string where = path.string() + ": line " + std::to_string(number) + ": ";
    if (fields.size() != 3) throw Error(where + std::to_string(fields.size()) + " fields, expected 3");
    if (fields[0].empty() || !seen.insert(fields[0]).second) throw Error(where + "empty or duplicate image id");
    const double melanoma = parse_probability(fields[1], path, number);
    const double keratosis = parse_probability(fields[2], path, number);
    const auto is_flag = [](double v) { return v == 0.0 || v == 1.0; };
    if (!is_flag(melanoma) || !is_flag(keratosis) || melanoma + keratosis > 1.0) {
      throw Error(where + "expected 0/1 flags with at most one set, got " + fields[1] + "," + fields[2]);
    }
    truth.ids.push_back(fields[0]);
    truth.labels.push_back(melanoma == 1.0 ? 0 : keratosis == 1.0 ? 1 : 2);
  }
  if (truth.ids.empty()) throw Error(path.string() + ": no ground-truth rows after the header");
  return truth;
}

GroundTruth ground_truth_from_manifest(const Manifest& manifest, const std::string& split) {
  GroundTruth truth;
  truth.classes = manifest.classes;
  for (const ManifestEntry& entry : manifest.entries) {
    if (entry.split != split) continue;
    truth.ids.push_back(entry.id);
    truth.labels.push_back(entry.label_index);
  }
  if (truth.ids.empty()) throw Error("the manifest has no images in split '" + split + "'");
  return truth;
}

std::vector<int> match_labels(const Predictions& predictions, const GroundTruth& ground_truth) {
  if (predictions.classes != ground_truth.classes) {
    throw Error("predicted classes (" + join(predictions.classes, ",") + ") differ from the ground truth's (" +
                join(ground_truth.classes, ",") + ")");
  }
  std::unordered_map<std::string, int> label_of;
  for (std::size_t i = 0; i < ground_truth.ids.size(); ++i) label_of[ground_truth.ids[i]] = ground_truth.labels[i];
  std::vector<int> labels;
  std::vector<std::string> extra;
  std::unordered_set<std::string> predicted;
  for (const std::string& id : predictions.ids) {
    predicted.insert(id);
    const auto found = label_of.find(id);
    if (found == label_of.end()) {
      extra.push_back(id);
    } else {
      labels.push_back(found->second);
    }
  }
  std::vector<std::string> missing;
  for (const std::string& id : ground_truth.ids) {
    if (!predicted.count(id)) missing.push_back(id);
  }
  if (!missing.empty() || !extra.empty()) {
    std::string message = "predictions and ground truth disagree on image ids:";
    if (!missing.empty()) {
      message += " " + std::to_string(missing.size()) + " without a prediction (" + first_few(missing) + ")";
    }
    if (!extra.empty()) {
      message += std::string(missing.empty() ? "" : ";") + " " + std::to_string(extra.size()) +
                 " without ground truth (" + first_few(extra) + ")";
    }
    throw Error(message);
  }
  if (predicted.size() != predictions.ids.size()) throw Error("predictions list an image id more than once");
  return labels;
}

GroundTruth read_manifest_ground_truth(const std::filesystem::path& manifest_path, const std::string& split) {
  try {
    return ground_truth_from_manifest(read_manifest(manifest_path), split);
  } catch (const Error& e) {
    const std::string message = e.what();
    if (message.find(manifest_path.string()) != std::string::npos) throw;
    throw Error(manifest_path.string() + ": " + message);
  }
}

}  // namespace derm
