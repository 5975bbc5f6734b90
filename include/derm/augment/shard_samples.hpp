#pragma once
// Random access to the samples of a folder of derm-augment shards, for
// training on pre-augmented data: an index of every sample's JPEG (built by
// reading the tar headers and the small JSON records only) and its label.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

namespace derm {

class ShardSamples {
 public:
  // derm::Error naming the folder when it is not a complete derm-augment run
  // (no augment-run.json or index.json, a missing shard, a sample without its
  // image or record).
  explicit ShardSamples(const std::filesystem::path& dir);

  std::size_t size() const { return samples_.size(); }
  const std::vector<int>& labels() const { return labels_; }
  const nlohmann::json& run() const { return run_; }  // augment-run.json
  const std::vector<std::string>& classes() const { return classes_; }

  // Sample i as decoded RGB; thread-safe.
  cv::Mat read(std::size_t i) const;

 private:
  struct Sample {
    std::size_t shard;
    std::uint64_t offset;
    std::uint64_t size;
  };
  std::vector<std::filesystem::path> shards_;
  std::vector<Sample> samples_;
  std::vector<int> labels_;
  std::vector<std::string> classes_;
  nlohmann::json run_;
};

}  // namespace derm
