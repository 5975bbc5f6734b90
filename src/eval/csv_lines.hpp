#pragma once
// Internal: the line-based reading that predictions CSVs and ISIC 2017 ground
// truth share (their errors name the file and the line).
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace derm::detail {

// The comma-separated fields of one line (no quoting in these files).
std::vector<std::string> split_fields(const std::string& line);

// Non-blank lines of a text file with their 1-based line numbers, a UTF-8
// byte-order mark and CRs stripped; derm::Error naming the file when it is empty.
std::vector<std::pair<int, std::string>> read_lines(const std::filesystem::path& path);

// A number in [0, 1]; derm::Error naming the file and line otherwise.
double parse_probability(const std::string& field, const std::filesystem::path& path, int line);

// "a, b, c, d, e, ..." of the first few ids, for messages.
std::string first_few(const std::vector<std::string>& ids);

}  // namespace derm::detail
