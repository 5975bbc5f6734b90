#include "derm/core/json_file.hpp"

#include "derm/core/atomic_file.hpp"
#include "derm/core/error.hpp"

namespace derm {

nlohmann::json read_json_file(const std::filesystem::path& path) {
  const std::string text = read_file(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path.string() + ": not valid JSON (" + e.what() + ")");
  }
}

void write_json_file(const std::filesystem::path& path, const nlohmann::json& value) {
  write_file_atomically(path, [&](std::ostream& out) { out << value.dump(2) << '\n'; });
}

}  // namespace derm
