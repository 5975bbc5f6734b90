#pragma once
// The files of a shard folder besides the shards: augment-run.json (what the
// run is; checked on resume) and index.json (what it produced).
#include <cstdint>
#include <filesystem>
#include <vector>

#include <nlohmann/json.hpp>

#include "derm/augment/shard_run.hpp"

namespace derm::detail {

nlohmann::json make_run_record(const Manifest& manifest, const ShardRunOptions& options);

// Creates the folder, removes temporaries left by an interrupted run, then
// writes augment-run.json or checks that the existing one matches `record`.
void prepare_run_folder(const std::filesystem::path& out_dir, const nlohmann::json& record);

// Indices of the shards of a run of `samples` that do not exist yet or are
// incomplete (not a readable tar holding exactly their samples, e.g. truncated;
// logged as a warning), ascending.
std::vector<std::int64_t> missing_shards(const std::filesystem::path& out_dir, std::int64_t samples, int shard_size);

void write_index(const ShardRunSummary& summary, const std::vector<std::string>& classes);

}  // namespace derm::detail
