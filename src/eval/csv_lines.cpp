#include "csv_lines.hpp"

#include <algorithm>
#include <limits>
#include <sstream>

#include "derm/core/atomic_file.hpp"
#include "derm/core/error.hpp"
#include "derm/core/text.hpp"

namespace derm::detail {
namespace fs = std::filesystem;

std::vector<std::string> split_fields(const std::string& line) {
  std::vector<std::string> fields;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, ',')) fields.push_back(field);
  if (!line.empty() && line.back() == ',') fields.emplace_back();
  return fields;
}

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

std::string first_few(const std::vector<std::string>& ids) {
  constexpr std::size_t kShown = 5;
  std::vector<std::string> shown(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(std::min(kShown, ids.size())));
  return join(shown, ", ") + (ids.size() > kShown ? ", ..." : "");
}

}  // namespace derm::detail
