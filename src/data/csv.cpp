#include "derm/data/csv.hpp"

#include "derm/core/atomic_file.hpp"
#include "derm/core/error.hpp"
#include "derm/core/text.hpp"

namespace derm {

int CsvTable::column(const std::string& name) const {
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return static_cast<int>(i);
  }
  return -1;
}

namespace {

bool is_blank(const std::vector<std::string>& fields) {
  return fields.size() == 1 && fields[0].empty();
}

}  // namespace

CsvTable parse_csv(const std::string& text, const std::string& name) {
  std::size_t pos = 0;
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) pos = 3;
  std::vector<CsvRow> records;
  int line = 1;
  while (pos < text.size()) {
    CsvRow record;
    record.line = line;
    std::string field;
    bool in_quotes = false;
    bool was_quoted = false;
    bool record_done = false;
    while (pos < text.size() && !record_done) {
      const char c = text[pos++];
      if (in_quotes) {
        if (c == '"') {
          if (pos < text.size() && text[pos] == '"') {
            field += '"';
            ++pos;
          } else {
            in_quotes = false;
          }
        } else {
          if (c == '\n') ++line;
          field += c;
        }
        continue;
      }
      switch (c) {
        case '"':
          if (!field.empty() || was_quoted) {
            throw Error(name + ":" + std::to_string(line) +
                        ": stray quote inside an unquoted field");
          }
          in_quotes = true;
          was_quoted = true;
          break;
        case ',':
          record.fields.push_back(std::move(field));
          field.clear();
          was_quoted = false;
          break;
        case '\r':
          if (pos < text.size() && text[pos] == '\n') break;  // CRLF: the \n ends it
          [[fallthrough]];
        case '\n':
          ++line;
          record_done = true;
          break;
        default:
          if (was_quoted) {
            throw Error(name + ":" + std::to_string(line) +
                        ": text after the closing quote of a field");
          }
          field += c;
      }
    }
    if (in_quotes) {
      throw Error(name + ":" + std::to_string(record.line) + ": unterminated quoted field");
    }
    record.fields.push_back(std::move(field));
    if (!is_blank(record.fields)) records.push_back(std::move(record));
  }
  if (records.empty()) throw Error(name + ": empty CSV file (no header)");

  CsvTable table;
  table.header = std::move(records.front().fields);
  for (std::size_t i = 1; i < records.size(); ++i) {
    if (records[i].fields.size() != table.header.size()) {
      throw Error(name + ":" + std::to_string(records[i].line) + ": expected " +
                  std::to_string(table.header.size()) + " fields (as in the header), found " +
                  std::to_string(records[i].fields.size()));
    }
    table.rows.push_back(std::move(records[i]));
  }
  return table;
}

CsvTable read_csv(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw Error(path.string() + ": no such CSV file");
  }
  return parse_csv(read_file(path), path.string());
}

std::string csv_quote(const std::string& field) {
  if (field.find_first_of(",\"\r\n") == std::string::npos) return field;
  std::string quoted = "\"";
  for (const char c : field) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  quoted += '"';
  return quoted;
}

void write_csv_row(std::ostream& out, const std::vector<std::string>& fields) {
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out << ',';
    out << csv_quote(fields[i]);
  }
  out << '\n';
}

std::string join_header(const std::vector<std::string>& names) { return join(names, ","); }

}  // namespace derm
