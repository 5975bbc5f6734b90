#include "derm/augment/shard_samples.hpp"

#include <fstream>
#include <map>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "derm/core/atomic_file.hpp"
#include "derm/core/error.hpp"
#include "derm/core/json_file.hpp"
#include "derm/augment/shard_files.hpp"
#include "derm/augment/tar.hpp"

namespace derm {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

ShardSamples::ShardSamples(const fs::path& dir) {
  const std::string where = dir.string() + ": ";
  if (!fs::exists(dir / kRunFileName)) throw Error(where + "not a derm-augment folder (no " + kRunFileName + ")");
  if (!fs::exists(dir / kIndexFileName)) {
    throw Error(where + "incomplete derm-augment run (no " + kIndexFileName + "); run derm-augment again to finish it");
  }
  run_ = read_json_file(dir / kRunFileName);
  const json index = read_json_file(dir / kIndexFileName);
  try {
    classes_ = index.at("classes").get<std::vector<std::string>>();
    for (const auto& shard : index.at("shards")) {
      shards_.push_back(dir / shard.at("name").get<std::string>());
    }
  } catch (const json::exception& e) {
    throw Error(where + "malformed run files (" + e.what() + ")");
  }
  for (std::size_t s = 0; s < shards_.size(); ++s) {
    if (!fs::exists(shards_[s])) throw Error(shards_[s].string() + ": shard missing");
    std::map<std::string, Sample> images;
    std::map<std::string, int> labels;
    walk_tar(shards_[s], [&](const TarMember& member, std::istream& in) {
      const std::string key = member.name.substr(0, member.name.rfind('.'));
      if (ends_with(member.name, ".jpg")) {
        images[key] = Sample{s, member.data_offset, member.size};
      } else if (ends_with(member.name, ".json")) {
        std::string text(member.size, '\0');
        in.read(text.data(), static_cast<std::streamsize>(member.size));
        try {
          labels[key] = json::parse(text).at("label_index").get<int>();
        } catch (const json::exception&) {
          throw Error(shards_[s].string() + ": malformed record " + member.name);
        }
      }
    });
    for (const auto& [key, sample] : images) {
      const auto label = labels.find(key);
      if (label == labels.end()) throw Error(shards_[s].string() + ": sample " + key + " has no .json record");
      samples_.push_back(sample);
      labels_.push_back(label->second);
    }
  }
  if (samples_.empty()) throw Error(where + "no samples in the shards");
}

cv::Mat ShardSamples::read(std::size_t i) const {
  const Sample& sample = samples_.at(i);
  std::ifstream in(shards_[sample.shard], std::ios::binary);
  std::vector<uchar> bytes(sample.size);
  in.seekg(static_cast<std::streamoff>(sample.offset));
  if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()))) {
    throw Error(shards_[sample.shard].string() + ": cannot read sample at byte " + std::to_string(sample.offset));
  }
  cv::Mat bgr = cv::imdecode(bytes, cv::IMREAD_COLOR);
  if (bgr.empty()) {
    throw Error(shards_[sample.shard].string() + ": corrupt sample at byte " + std::to_string(sample.offset));
  }
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return rgb;
}

}  // namespace derm
