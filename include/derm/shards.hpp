#pragma once
// Augmented training samples as WebDataset shards: POSIX ustar files
// shard-000000.tar, shard-000001.tar, ... each holding <key>.jpg (the sample,
// output_size x output_size RGB JPEG) and <key>.json ({"label", "label_index",
// "source_id", "sample_index", "seed"}) for shard_size consecutive samples;
// key = the sample index in 9 digits.
//
// Sample k is a deterministic function of (seed, k): its source is the k-th in
// a seeded order over the manifest split (a fresh permutation each time the
// split is used up) and its distortions come from derive_seed(seed, 0, k). A
// shard is written to a temporary file and renamed into place when complete,
// so an interrupted run resumes by skipping the shards that exist complete (a
// damaged one, e.g. truncated, is written again); the folder's augment-run.json
// must match the new run's parameters, otherwise derm::Error naming the difference.
// index.json (shard list, class counts) is written when every shard exists.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <istream>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "derm/augment.hpp"
#include "derm/manifest.hpp"

namespace derm {

// ---- POSIX ustar (the subset WebDataset needs: regular files) ----

class TarWriter {
 public:
  explicit TarWriter(std::ostream& out) : out_(out) {}
  // A regular file (mode 0644, mtime 0, so archives are reproducible). The name
  // is at most 100 bytes; derm::Error otherwise or when the stream fails.
  void add(const std::string& name, const void* data, std::size_t size);
  void add(const std::string& name, const std::string& data) { add(name, data.data(), data.size()); }
  // Writes the end-of-archive marker (two zero blocks).
  void finish();
  std::uint64_t bytes_written() const { return bytes_; }

 private:
  std::ostream& out_;
  std::uint64_t bytes_ = 0;
};

struct TarEntry {
  std::string name;
  std::string data;
};
// Visits the regular files of a ustar archive in order, one in memory at a
// time; checks each header's checksum. derm::Error names the file when malformed.
void for_each_tar_entry(const std::filesystem::path& path,
                        const std::function<void(const TarEntry&)>& visit);

// A regular file of an archive: where its data lie.
struct TarMember {
  std::string name;
  std::uint64_t data_offset = 0;
  std::uint64_t size = 0;
};
// Visits the headers of the regular files in order; the visitor may read the
// member's data from the stream (positioned at data_offset) or skip it, so an
// archive can be indexed without reading its data.
void walk_tar(const std::filesystem::path& path,
              const std::function<void(const TarMember&, std::istream&)>& visit);

// ---- Which source each sample uses ----

class SampleOrder {
 public:
  SampleOrder(std::uint64_t seed, std::size_t source_count);
  // Index into the split of sample k's source. Keeps the permutation of the
  // last cycle used, so consecutive calls cost O(1).
  std::size_t source_of(std::int64_t sample_index);

 private:
  std::uint64_t seed_;
  std::size_t count_;
  std::int64_t cycle_ = -1;
  std::vector<std::size_t> permutation_;
};

std::string shard_name(std::int64_t shard_index);   // "shard-000042.tar"
std::string sample_key(std::int64_t sample_index);  // "000001234"
inline constexpr const char* kRunFileName = "augment-run.json";
inline constexpr const char* kIndexFileName = "index.json";

// ---- A run ----

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

// Hex FNV-1a 64 of the classes and the split's ids, labels and content hashes:
// what a run's samples depend on (not the paths, so data may move).
std::string manifest_split_hash(const Manifest& manifest, const std::string& split);

}  // namespace derm
