#pragma once
// Internal to derm-prep: each labelled image as a candidate for the manifest,
// checked (decoded, hashed, optionally cached) on several threads.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "derm/data/label_sources.hpp"
#include "derm/data/prep.hpp"

namespace derm::detail {

struct Candidate {
  LabeledImage image;
  int label_index = -1;
  std::string content_hash;
  std::uint64_t phash = 0;
  int width = 0;
  int height = 0;
  std::string cache_path;
  std::string error;  // non-empty: excluded
  bool dropped = false;
};

struct Exclusions {
  nlohmann::json list = nlohmann::json::array();
  void add(const LabeledImage& image, const std::string& reason) {
    list.push_back({{"id", image.id},
                    {"path", image.path.string()},
                    {"source", image.source},
                    {"origin", image.origin},
                    {"reason", reason}});
  }
};

// Where the resized copy of image `id` goes: its id as one file name in the cache folder.
std::filesystem::path cache_file(const std::string& id, const PrepOptions& options);

// Reads, hashes and decodes every candidate on options.threads threads,
// filling it or, for a bad image, its error; then writes its cache copy. A
// failure that is not the image's (a cache file that cannot be written, no
// memory) ends the run.
void check_all(std::vector<Candidate>* candidates, const PrepOptions& options);

}  // namespace derm::detail
