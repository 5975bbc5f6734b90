#pragma once
// The manifest: the CSV that derm-prep writes and every other tool reads.
//
// Columns (header required, in this order):
//   id,path,label,label_index,lesion_id,patient_id,split,content_hash,width,height,source
// - path: absolute, or relative to the manifest's folder
// - label / label_index: class name and its index; the classes of a manifest are
//   the label_index -> label pairs, indices 0..K-1. By convention the last class
//   is the negative ("rest") class, e.g. melanoma,seborrheic_keratosis,nevus.
// - lesion_id, patient_id: may be empty; splits group by them
// - split: train, val or test (or any name the user chose)
// - content_hash: hex SHA-256 of the file's bytes
// - width, height: of the decoded image, in pixels
// - source: which dataset/format the row came from (e.g. isic2017, ham10000)
#include <filesystem>
#include <string>
#include <vector>

namespace derm {

struct ManifestEntry {
  std::string id;
  std::string path;  // as resolved when read: absolute or relative to the working folder
  std::string label;
  int label_index = -1;
  std::string lesion_id;
  std::string patient_id;
  std::string split;
  std::string content_hash;
  int width = 0;
  int height = 0;
  std::string source;
};

struct Manifest {
  std::vector<std::string> classes;  // classes[label_index] == label
  std::vector<ManifestEntry> entries;

  // Entries of one split, in manifest order; derm::Error when the split is empty.
  std::vector<ManifestEntry> split(const std::string& name) const;
  // Index of a class name; derm::Error naming it when unknown.
  int class_index(const std::string& name) const;
};

// Reads and validates a manifest (header, types, consistent label indices,
// unique ids). Relative paths are resolved against the manifest's folder.
// derm::Error names the file and line of the first problem.
Manifest read_manifest(const std::filesystem::path& path);

// Writes atomically; paths are written as given in the entries. Fields holding
// commas, quotes or line breaks are quoted (RFC 4180).
void write_manifest(const std::filesystem::path& path, const Manifest& manifest);

// The manifest header, in order (see the top of this file).
const std::vector<std::string>& manifest_columns();

}  // namespace derm
