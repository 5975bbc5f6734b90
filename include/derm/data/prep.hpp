#pragma once
// derm-prep as a library: ISIC labels and images in, a checked manifest out.
//
// Steps: read every source (label_sources.hpp) -> map diagnoses onto the task's
// classes (diagnosis.hpp) -> check every image (decodable colour image of at
// least min_side px, SHA-256 of its bytes, 64-bit pHash) -> find duplicates ->
// keep the given splits or make a grouped stratified split -> optional resized
// cache -> write the manifest (and the JSON summary) and return the summary.
// The manifest and summary are written as a set (derm::StagedFiles): both or
// neither. An output that is one of the run's input files (a label file, a
// record, an image; cache files included) is a derm::Error before anything is
// written. A cache file that cannot be written is a derm::Error naming it, not
// an exclusion. A failure that is not the image's (out of memory, say) ends the
// run as it is; it never excludes an image.
//
// Exclusions (listed in the summary with their reason, never fatal):
//   - the task does not use the diagnosis ("not in task <name>")
//   - an id listed in a CSV has no image file
//   - the same id comes from two sources (the later one is excluded)
//   - the image cannot be read (empty, truncated, not an image, grayscale, too small)
//   - image files in a source's image folder that no label row names
// An id listed twice in ONE label file is an error (derm::Error), not an exclusion.
//
// Duplicates: "identical" = same SHA-256; "near" = pHash Hamming distance <=
// near_distance (and not identical). A pair whose two images are in different
// splits is a LEAK. Default: reported only. With drop_leaks the copy in the
// less evaluative split (train < val < test; the later one when the splits rank
// alike) is removed from the manifest, so each leak keeps exactly its test/val copy.
// With a generated split, duplicates are grouped like lesions, so they cannot leak.
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "derm/core/image.hpp"
#include "derm/data/label_sources.hpp"
#include "derm/data/manifest.hpp"

namespace derm {

struct PrepOptions {
  std::string task = "isic2017";
  std::vector<SourceSpec> sources;
  std::filesystem::path out;  // the manifest
  std::filesystem::path summary;  // the JSON summary too; empty: none
  // Empty: every source must give its split. Otherwise images without a given
  // split are split grouped by lesion_id, patient_id and duplicates, stratified by class.
  std::vector<std::pair<std::string, double>> split_fractions;
  std::uint64_t seed = 1;
  int min_side = 32;
  int threads = 2;
  int near_distance = 4;  // pHash Hamming threshold; < 0 disables near-duplicate search
  bool drop_leaks = false;
  std::filesystem::path cache_dir;  // empty: no cache
  int cache_size = 256;
  ResizePolicy cache_policy = ResizePolicy::squash;
  bool absolute_paths = false;  // else paths relative to the manifest's folder
  bool quiet = false;
};

struct PrepResult {
  Manifest manifest;       // as written (paths as in the file)
  nlohmann::json summary;  // counts per split and class, exclusions, duplicates, leaks
};

PrepResult run_prep(const PrepOptions& options);

// The three official ISIC 2017 Part 3 CSVs of DIR with DIR/images, as
// train/val/test sources; derm::Error naming what is missing.
std::vector<SourceSpec> isic2017_sources(const std::filesystem::path& dir);

}  // namespace derm
