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
#include <string>

namespace derm {

std::string shard_name(std::int64_t shard_index);   // "shard-000042.tar"
std::string sample_key(std::int64_t sample_index);  // "000001234"
inline constexpr const char* kRunFileName = "augment-run.json";
inline constexpr const char* kIndexFileName = "index.json";

}  // namespace derm
