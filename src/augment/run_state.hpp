#pragma once
// The files of a shard folder besides the shards: augment-run.json (what the
// run is; checked on resume) and index.json (what it produced).
#include <cstdint>
#include <filesystem>
#include <vector>

#include <nlohmann/json.hpp>

#include "derm/shards.hpp"

namespace derm::detail {

nlohmann::json make_run_record(const Manifest& manifest, const ShardRunOptions& options);

// Creates the folder, removes temporaries left by an interrupted run, then
// writes augment-run.json or checks that the existing one matches `record`.
void prepare_run_folder(const std::filesystem::path& out_dir, const nlohmann::json& record);

// Indices of the shards that do not exist yet, ascending.
std::vector<std::int64_t> missing_shards(const std::filesystem::path& out_dir, std::int64_t shards_total);

void write_index(const ShardRunSummary& summary, const std::vector<std::string>& classes);

}  // namespace derm::detail
