#include "derm/predictions_csv.hpp"
#include "derm/text.hpp"

#include <cmath>
#include <iomanip>
#include <limits>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "derm/atomic_file.hpp"
#include "derm/csv.hpp"
#include "derm/ensemble.hpp"
#include "derm/error.hpp"

namespace derm {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> split_fields(const std::string& line) {
  std::vector<std::string> fields;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, ',')) fields.push_back(field);
  if (!line.empty() && line.back() == ',') fields.emplace_back();
  return fields;
}

// Non-blank lines of a text file with their 1-based line numbers, a UTF-8
// byte-order mark and CRs stripped.
std::vector<std::pair<int, std::string>> read_lines(const fs::path& path) {
  std::string content = read_file(path);
  if (content.compare(0, 3, "\xEF\xBB\xBF") == 0) content.erase(0, 3);
  std::istringstream text(content);
  std::vector<std::pair<int, std::string>> lines;
  std::string line;
  for (int number = 1; std::getline(text, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) lines.emplace_back(number, line);
  }
  if (lines.empty()) throw Error(path.string() + ": empty file, expected a CSV header");
  return lines;
}

double parse_probability(const std::string& field, const fs::path& path, int line) {
  std::size_t used = 0;
  double value = std::numeric_limits<double>::quiet_NaN();
  try {
    value = std::stod(field, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != field.size() || !(value >= 0.0 && value <= 1.0)) {
    throw Error(path.string() + ": line " + std::to_string(line) + ": '" + field +
                "' is not a probability in [0, 1]");
  }
  return value;
}

// Rounding slack for a row's probabilities summing to at most 1.
constexpr double kSumTolerance = 1e-3;

std::string format_sum(double sum) {
  std::ostringstream text;
  text << sum;
  return text.str();
}

std::string first_few(const std::vector<std::string>& ids) {
  constexpr std::size_t kShown = 5;
  std::vector<std::string> shown(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(std::min(kShown, ids.size())));
  return join(shown, ", ") + (ids.size() > kShown ? ", ..." : "");
}

}  // namespace

void write_predictions_csv(const fs::path& path, const Predictions& predictions) {
  const std::vector<std::vector<double>> mean = mean_probabilities(predictions);
  const std::vector<std::string> positives = default_positive_classes(predictions.classes);
  write_file_atomically(path, [&](std::ostream& out) {
    out << "image_id," << join_header(positives) << '\n';
    out << std::setprecision(std::numeric_limits<float>::max_digits10);
    for (std::size_t i = 0; i < mean.size(); ++i) {
      out << predictions.ids[i];
      for (std::size_t c = 0; c < positives.size(); ++c) out << ',' << static_cast<float>(mean[i][c]);
      out << '\n';
    }
  });
}

Predictions read_predictions_csv(const fs::path& path, const std::vector<std::string>& classes) {
  const std::vector<std::string> positives = default_positive_classes(classes);
  const auto lines = read_lines(path);
  const std::vector<std::string> header = split_fields(lines.front().second);
  const std::vector<std::string> value_columns(header.begin() + (header.empty() ? 0 : 1), header.end());
  const bool id_first = !header.empty() && (header[0] == "image_id" || header[0] == "id");
  const bool binary_probability = classes.size() == 2 && value_columns == std::vector<std::string>{"probability"};
  const bool all_classes = value_columns == classes;
  if (!id_first || !(value_columns == positives || all_classes || binary_probability)) {
    throw Error(path.string() + ": header '" + lines.front().second + "', expected 'image_id," +
                join_header(positives) + "'" + (classes.size() == 2 ? " or 'id,probability'" : ""));
  }

  Predictions predictions;
  predictions.classes = classes;
  auto& rows = predictions.member_probabilities.emplace_back();
  std::unordered_set<std::string> seen;
  for (std::size_t k = 1; k < lines.size(); ++k) {
    const auto& [number, line] = lines[k];
    const std::vector<std::string> fields = split_fields(line);
    if (fields.size() != header.size()) {
      throw Error(path.string() + ": line " + std::to_string(number) + ": " + std::to_string(fields.size()) +
                  " fields, expected " + std::to_string(header.size()));
    }
    if (fields[0].empty()) throw Error(path.string() + ": line " + std::to_string(number) + ": empty image id");
    if (!seen.insert(fields[0]).second) {
      throw Error(path.string() + ": line " + std::to_string(number) + ": duplicate image id " + fields[0]);
    }
    std::vector<float> probabilities(classes.size(), 0.0f);
    double sum = 0;
    for (std::size_t c = 0; c < value_columns.size(); ++c) {
      const double p = parse_probability(fields[c + 1], path, number);
      probabilities[c] = static_cast<float>(p);
      sum += p;
    }
    if (sum > 1.0 + kSumTolerance) {
      throw Error(path.string() + ": line " + std::to_string(number) + ": probabilities sum to " + format_sum(sum) +
                  ", more than 1");
    }
    if (!all_classes) probabilities.back() = static_cast<float>(std::max(0.0, 1.0 - sum));
    predictions.ids.push_back(fields[0]);
    rows.push_back(std::move(probabilities));
  }
  if (predictions.ids.empty()) throw Error(path.string() + ": no prediction rows after the header");
  return predictions;
}

Predictions read_member_predictions_csvs(const std::vector<fs::path>& paths, const std::vector<std::string>& classes) {
  if (paths.empty()) throw Error("no predictions CSV given");
  Predictions ensemble = read_predictions_csv(paths.front(), classes);
  std::unordered_map<std::string, std::size_t> row_of;
  for (std::size_t i = 0; i < ensemble.ids.size(); ++i) row_of[ensemble.ids[i]] = i;
  for (std::size_t m = 1; m < paths.size(); ++m) {
    Predictions member = read_predictions_csv(paths[m], classes);
    std::vector<std::string> unknown;
    for (const std::string& id : member.ids) {
      if (!row_of.count(id)) unknown.push_back(id);
    }
    if (!unknown.empty() || member.ids.size() != ensemble.ids.size()) {
      throw Error(paths[m].string() + ": its " + std::to_string(member.ids.size()) + " image ids are not those of " +
                  paths.front().string() + " (" + std::to_string(ensemble.ids.size()) + ")" +
                  (unknown.empty() ? "" : "; not there: " + first_few(unknown)));
    }
    auto& rows = ensemble.member_probabilities.emplace_back(ensemble.ids.size());
    for (std::size_t i = 0; i < member.ids.size(); ++i) {
      rows[row_of.at(member.ids[i])] = std::move(member.member_probabilities[0][i]);
    }
  }
  return ensemble;
}

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

}  // namespace derm
