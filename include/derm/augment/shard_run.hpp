#pragma once
// derm-augment as a library call: a manifest split expanded into WebDataset
// shards of augmented samples (see derm/augment/shard_files.hpp for the layout).
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "derm/augment/augment_params.hpp"
#include "derm/data/manifest.hpp"

namespace derm {

struct ShardRunOptions {
  std::string split = "train";
  std::filesystem::path out_dir;
  std::int64_t samples = 0;
  int shard_size = 1000;
  std::uint64_t seed = 1;
  int threads = 1;           // worker threads producing samples
  int jpeg_quality = 95;
  int cache_images = 32;     // decoded sources kept (LRU); memory is bounded by it
  std::int64_t stop_after_shards = -1;  // debug: write at most this many shards, then stop
  bool quiet = false;        // no progress on stderr
  std::string manifest_path; // recorded in augment-run.json, for information only
  AugmentParams params;
};

struct ShardRunSummary {
  std::filesystem::path out_dir;
  std::int64_t samples = 0;
  int shard_size = 0;
  std::int64_t shards_total = 0;
  std::int64_t shards_written = 0;   // by this call
  std::int64_t shards_skipped = 0;   // complete already (resumed run)
  std::int64_t samples_written = 0;  // by this call
  bool complete = false;             // every shard exists and index.json is written
  double seconds = 0.0;
  std::uint64_t bytes_written = 0;   // by this call
  std::map<std::string, std::int64_t> class_counts;  // over all samples of the run
};
nlohmann::json to_json(const ShardRunSummary& summary);

// Validates the options (derm::Error naming the option), checks or writes
// augment-run.json, then writes the missing shards with options.threads workers.
ShardRunSummary write_augmented_shards(const Manifest& manifest, const ShardRunOptions& options);

}  // namespace derm
