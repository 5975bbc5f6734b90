#include "derm/eval/predictions_csv.hpp"

#include <cmath>
#include <iomanip>
#include <limits>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "csv_lines.hpp"
#include "derm/core/atomic_file.hpp"
#include "derm/data/csv.hpp"
#include "derm/metrics/ensemble.hpp"
#include "derm/core/error.hpp"

namespace derm {
namespace fs = std::filesystem;
using detail::first_few;
using detail::parse_probability;
using detail::read_lines;
using detail::split_fields;

namespace {

// Rounding slack for a row's probabilities summing to at most 1.
constexpr double kSumTolerance = 1e-3;

std::string format_sum(double sum) {
  std::ostringstream text;
  text << sum;
  return text.str();
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

}  // namespace derm
