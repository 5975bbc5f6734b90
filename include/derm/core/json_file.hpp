#pragma once
// JSON files: read with errors that name the file, written whole or not at all.
#include <filesystem>

#include <nlohmann/json.hpp>

namespace derm {

// The file parsed; derm::Error "FILE: not valid JSON (...)" (or naming the file
// when it cannot be read).
nlohmann::json read_json_file(const std::filesystem::path& path);

// Pretty-printed (2 spaces) with a final newline, atomically (write_file_atomically).
void write_json_file(const std::filesystem::path& path, const nlohmann::json& value);

}  // namespace derm
