#pragma once
// Small RFC 4180 CSV reading and writing: quoted fields may hold commas,
// doubled quotes and line breaks; CRLF line ends and a UTF-8 BOM are accepted.
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

namespace derm {

struct CsvRow {
  int line = 0;  // 1-based line number where the record starts
  std::vector<std::string> fields;
};

struct CsvTable {
  std::vector<std::string> header;
  std::vector<CsvRow> rows;  // blank lines are skipped

  // Index of a header column, or -1.
  int column(const std::string& name) const;
};

// Parses CSV text; `name` (usually the file) prefixes every error as "name:line: ...".
// Every row must have as many fields as the header. derm::Error when the text
// is empty, a quote is unterminated or a row has the wrong number of fields.
CsvTable parse_csv(const std::string& text, const std::string& name);

// Reads and parses a file; derm::Error names it.
CsvTable read_csv(const std::filesystem::path& path);

// The field as it must appear in a CSV file (quoted when needed).
std::string csv_quote(const std::string& field);

// Writes fields separated by commas and a final '\n'.
void write_csv_row(std::ostream& out, const std::vector<std::string>& fields);

// "a,b,c" for messages about expected headers.
std::string join_header(const std::vector<std::string>& names);

}  // namespace derm
