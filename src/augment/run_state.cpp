#include "run_state.hpp"

#include <algorithm>
#include <set>

#include <spdlog/spdlog.h>

#include "derm/core/atomic_file.hpp"
#include "derm/core/error.hpp"
#include "derm/core/json_file.hpp"
#include "derm/augment/shard_files.hpp"
#include "derm/augment/tar.hpp"
#include "derm/data/manifest_fingerprint.hpp"

namespace derm {
namespace fs = std::filesystem;

namespace {

// "was OLD, now NEW"; for objects, that of each key whose value differs:
// "key: was OLD, now NEW; ...".
std::string difference(const nlohmann::json& old, const nlohmann::json& now) {
  if (!old.is_object() || !now.is_object()) return "was " + old.dump() + ", now " + now.dump();
  std::set<std::string> keys;
  for (const auto& [key, value] : old.items()) keys.insert(key);
  for (const auto& [key, value] : now.items()) keys.insert(key);
  std::string text;
  for (const std::string& key : keys) {
    const nlohmann::json before = old.contains(key) ? old[key] : nlohmann::json();
    const nlohmann::json after = now.contains(key) ? now[key] : nlohmann::json();
    if (before != after) text += (text.empty() ? "" : "; ") + key + ": " + difference(before, after);
  }
  return text;
}

// Whether a shard is a readable tar holding exactly the entries of its samples, in order.
bool is_complete_shard(const fs::path& path, std::int64_t first_sample, std::int64_t samples) {
  std::vector<std::string> expected;
  for (std::int64_t k = first_sample; k < first_sample + samples; ++k) {
    expected.push_back(sample_key(k) + ".jpg");
    expected.push_back(sample_key(k) + ".json");
  }
  std::vector<std::string> names;
  try {
    walk_tar(path, [&](const TarMember& member, std::istream&) { names.push_back(member.name); });
  } catch (const Error& e) {
    spdlog::warn("{}; writing the shard again", e.what());
    return false;
  }
  if (names != expected) {
    spdlog::warn("{}: holds {} entries, expected {}; writing the shard again", path.string(), names.size(),
                 expected.size());
    return false;
  }
  return true;
}

}  // namespace


namespace detail {

nlohmann::json make_run_record(const Manifest& manifest, const ShardRunOptions& options) {
  return {
      {"format", "derm-augment-webdataset/1"},
      {"params", to_json(options.params)},
      {"seed", options.seed},
      {"split", options.split},
      {"manifest_hash", split_fingerprint(manifest, options.split)},
      {"manifest_path", options.manifest_path},
      {"classes", manifest.classes},
      {"samples", options.samples},
      {"shard_size", options.shard_size},
      {"jpeg_quality", options.jpeg_quality},
  };
}

void prepare_run_folder(const fs::path& out_dir, const nlohmann::json& record) {
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (!fs::is_directory(out_dir)) throw Error(out_dir.string() + ": cannot create the output folder");

  bool has_shards = false;
  for (const auto& item : fs::directory_iterator(out_dir)) {
    const std::string name = item.path().filename().string();
    // write_file_atomically's temporaries: ".<name>.tmp-<hex>"
    if (name.rfind(".shard-", 0) == 0 && name.find(".tmp-") != std::string::npos) {
      fs::remove(item.path(), ec);
    } else if (name.rfind("shard-", 0) == 0) {
      has_shards = true;
    }
  }

  const fs::path run_file = out_dir / kRunFileName;
  if (!fs::exists(run_file)) {
    if (has_shards) {
      throw Error(out_dir.string() + ": holds shards but no " + kRunFileName + "; use an empty output folder");
    }
    write_json_file(run_file, record);
    return;
  }

  const nlohmann::json existing = read_json_file(run_file);
  for (const auto& [key, value] : record.items()) {
    if (key == "manifest_path") continue;  // data may move
    const nlohmann::json old = existing.contains(key) ? existing[key] : nlohmann::json();
    if (old != value) {
      throw Error(run_file.string() + ": this folder holds a run with different " + key + " (" +
                  difference(old, value) + "); use another output folder or delete this one");
    }
  }
}

std::vector<std::int64_t> missing_shards(const fs::path& out_dir, std::int64_t samples, int shard_size) {
  std::vector<std::int64_t> missing;
  for (std::int64_t first = 0, shard = 0; first < samples; first += shard_size, ++shard) {
    const fs::path path = out_dir / shard_name(shard);
    const std::int64_t count = std::min<std::int64_t>(shard_size, samples - first);
    if (!fs::exists(path) || !is_complete_shard(path, first, count)) missing.push_back(shard);
  }
  return missing;
}

void write_index(const ShardRunSummary& summary, const std::vector<std::string>& classes) {
  nlohmann::json shards = nlohmann::json::array();
  std::uint64_t total_bytes = 0;
  for (std::int64_t shard = 0; shard < summary.shards_total; ++shard) {
    const std::int64_t first = shard * summary.shard_size;
    const std::int64_t count = std::min<std::int64_t>(summary.shard_size, summary.samples - first);
    const std::uint64_t bytes = fs::file_size(summary.out_dir / shard_name(shard));
    total_bytes += bytes;
    shards.push_back({{"name", shard_name(shard)}, {"first_sample", first}, {"samples", count},
                      {"bytes", bytes}});
  }
  const nlohmann::json index = {
      {"format", "derm-augment-webdataset/1"},
      {"run_file", kRunFileName},
      {"samples", summary.samples},
      {"shard_size", summary.shard_size},
      {"classes", classes},
      {"class_counts", summary.class_counts},
      {"total_bytes", total_bytes},
      {"shards", shards},
  };
  write_json_file(summary.out_dir / kIndexFileName, index);
}

}  // namespace detail
}  // namespace derm
