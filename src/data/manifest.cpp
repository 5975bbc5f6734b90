#include "derm/data/manifest.hpp"

#include <charconv>
#include <map>
#include <set>
#include <unordered_set>

#include "derm/core/atomic_file.hpp"
#include "derm/data/csv.hpp"
#include "derm/core/error.hpp"
#include "derm/core/text.hpp"

namespace derm {
namespace fs = std::filesystem;

const std::vector<std::string>& manifest_columns() {
  static const std::vector<std::string> columns = {
      "id",     "path",         "label", "label_index", "lesion_id", "patient_id",
      "split",  "content_hash", "width", "height",      "source"};
  return columns;
}

std::vector<ManifestEntry> Manifest::split(const std::string& name) const {
  std::vector<ManifestEntry> selected;
  std::set<std::string> names;
  for (const auto& entry : entries) {
    names.insert(entry.split);
    if (entry.split == name) selected.push_back(entry);
  }
  if (selected.empty()) {
    throw Error("manifest has no entries in split '" + name + "' (its splits: " +
                (names.empty() ? "none" : join(names, ", ")) + ")");
  }
  return selected;
}

int Manifest::class_index(const std::string& name) const {
  for (std::size_t i = 0; i < classes.size(); ++i) {
    if (classes[i] == name) return static_cast<int>(i);
  }
  throw Error("unknown class '" + name + "' (classes: " + join_header(classes) + ")");
}

namespace {

// A non-negative decimal integer, nothing else.
bool parse_count(const std::string& text, int* value) {
  if (text.empty()) return false;
  const char* end = text.data() + text.size();
  const auto result = std::from_chars(text.data(), end, *value);
  return result.ec == std::errc() && result.ptr == end && *value >= 0;
}

}  // namespace

Manifest read_manifest(const fs::path& path) {
  const CsvTable table = read_csv(path);
  const std::string name = path.string();
  if (table.header != manifest_columns()) {
    throw Error(name + ": not a derm manifest: expected the header '" +
                join_header(manifest_columns()) + "', found '" + join_header(table.header) + "'");
  }
  const fs::path folder = path.parent_path();
  Manifest manifest;
  std::unordered_set<std::string> ids;
  std::map<int, std::string> label_of_index;
  std::map<std::string, int> index_of_label;
  for (const auto& row : table.rows) {
    const auto where = name + ":" + std::to_string(row.line) + ": ";
    const auto& f = row.fields;
    ManifestEntry e;
    e.id = f[0];
    e.path = f[1];
    e.label = f[2];
    e.lesion_id = f[4];
    e.patient_id = f[5];
    e.split = f[6];
    e.content_hash = f[7];
    e.source = f[10];
    if (e.id.empty()) throw Error(where + "empty id");
    if (e.path.empty()) throw Error(where + "empty path for id '" + e.id + "'");
    if (e.label.empty()) throw Error(where + "empty label for id '" + e.id + "'");
    if (e.split.empty()) throw Error(where + "empty split for id '" + e.id + "'");
    if (!parse_count(f[3], &e.label_index)) {
      throw Error(where + "label_index '" + f[3] + "' is not a non-negative integer");
    }
    if (!parse_count(f[8], &e.width) || !parse_count(f[9], &e.height)) {
      throw Error(where + "width/height '" + f[8] + "'/'" + f[9] +
                  "' are not non-negative integers");
    }
    if (!ids.insert(e.id).second) throw Error(where + "duplicate id '" + e.id + "'");

    const auto by_index = label_of_index.emplace(e.label_index, e.label);
    if (!by_index.second && by_index.first->second != e.label) {
      throw Error(where + "label_index " + f[3] + " is '" + e.label + "' here but '" +
                  by_index.first->second + "' on an earlier line");
    }
    const auto by_label = index_of_label.emplace(e.label, e.label_index);
    if (!by_label.second && by_label.first->second != e.label_index) {
      throw Error(where + "label '" + e.label + "' has label_index " + f[3] + " here but " +
                  std::to_string(by_label.first->second) + " on an earlier line");
    }

    const fs::path entry_path(e.path);
    if (entry_path.is_relative()) e.path = (folder / entry_path).lexically_normal().string();
    manifest.entries.push_back(std::move(e));
  }
  int expected = 0;
  for (const auto& [index, label] : label_of_index) {
    if (index != expected) {
      throw Error(name + ": label indices must be 0.." + std::to_string(label_of_index.size() - 1) +
                  " with rows for each, but no row has label_index " + std::to_string(expected));
    }
    manifest.classes.push_back(label);
    ++expected;
  }
  return manifest;
}

void write_manifest(const fs::path& path, const Manifest& manifest) {
  for (const auto& e : manifest.entries) {
    const bool known = e.label_index >= 0 &&
                       e.label_index < static_cast<int>(manifest.classes.size()) &&
                       manifest.classes[static_cast<std::size_t>(e.label_index)] == e.label;
    if (!known) {
      throw Error(path.string() + ": cannot write entry '" + e.id + "': label '" + e.label +
                  "' with label_index " + std::to_string(e.label_index) +
                  " does not match the classes " + join_header(manifest.classes));
    }
  }
  write_file_atomically(path, [&](std::ostream& out) {
    write_csv_row(out, manifest_columns());
    for (const auto& e : manifest.entries) {
      write_csv_row(out, {e.id, e.path, e.label, std::to_string(e.label_index), e.lesion_id,
                          e.patient_id, e.split, e.content_hash, std::to_string(e.width),
                          std::to_string(e.height), e.source});
    }
  });
}

}  // namespace derm
