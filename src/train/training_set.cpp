#include "training_set.hpp"

#include <random>

#include "derm/augment/shard_samples.hpp"
#include "derm/core/error.hpp"
#include "derm/data/manifest_fingerprint.hpp"
#include "derm/core/image.hpp"
#include "derm/core/parallel.hpp"
#include "derm/core/progress.hpp"

namespace derm {

SampleSource manifest_source(const std::vector<ManifestEntry>& entries) {
  SampleSource source;
  for (const auto& e : entries) {
    source.labels.push_back(e.label_index);
    source.decoded_bytes += std::int64_t{e.width} * e.height * 3;
  }
  source.load = [entries](std::size_t i) { return read_rgb_image(entries.at(i).path); };
  return source;
}

SampleSource shard_source(const std::filesystem::path& dir, const Manifest& manifest, const std::string& split) {
  auto shards = std::make_shared<ShardSamples>(dir);
  if (shards->classes() != manifest.classes) throw Error(dir.string() + ": the shards' classes differ from the manifest's");
  if (shards->run().value("split", "") != split ||
      shards->run().value("manifest_hash", "") != split_fingerprint(manifest, split)) {
    throw Error(dir.string() + ": the shards were made from another manifest or split than '" + split + "'");
  }
  SampleSource source;
  source.labels = shards->labels();
  const int side = shards->run().value("params", nlohmann::json::object()).value("output_size", 700);
  source.decoded_bytes = static_cast<std::int64_t>(shards->size()) * side * side * 3;
  source.load = [shards](std::size_t i) { return shards->read(i); };
  return source;
}

TrainingSet::TrainingSet(SampleSource source, const Preprocessing& preprocessing, const Augmenter* augmenter,
                         std::int64_t cache_mb, int workers, bool quiet)
    : source_(std::move(source)), preprocessing_(preprocessing), augmenter_(augmenter), workers_(workers) {
  // Prepared images are at most about twice the input's side (Augmenter::prepare).
  const std::int64_t side = 2 * preprocessing_.input_size;
  const std::int64_t bytes = std::min(source_.decoded_bytes, static_cast<std::int64_t>(size()) * side * side * 3);
  if (bytes > cache_mb * (std::int64_t{1} << 20)) return;
  cache_.resize(size());
  Progress progress("decoding", static_cast<std::int64_t>(size()), quiet);
  parallel_for(size(), workers_, [&](std::size_t i) {
    cache_[i] = prepared(source_.load(i));
    progress.advance();
  });
  progress.finish();
}

cv::Mat TrainingSet::prepared(const cv::Mat& rgb) const {
  return augmenter_ ? augmenter_->prepare(rgb) : prepare_image(rgb, preprocessing_);
}

cv::Mat TrainingSet::source(std::size_t i) const {
  if (!cache_.empty()) return cache_[i];
  return prepared(source_.load(i));
}

torch::Tensor TrainingSet::batch(const std::vector<std::size_t>& indices, const std::vector<std::uint64_t>& seeds) const {
  const int size = preprocessing_.input_size;
  auto images = torch::empty({static_cast<int64_t>(indices.size()), size, size, 3}, torch::kUInt8);
  parallel_for(indices.size(), workers_, [&](std::size_t k) {
    const cv::Mat src = source(indices.at(k));
    const cv::Mat out = augmenter_ ? augmenter_->apply(src, seeds.at(k)) : src;
    if (out.rows != size || out.cols != size || out.type() != CV_8UC3) {
      throw Error("training image " + std::to_string(indices[k]) + ": prepared image is not " +
                  std::to_string(size) + "x" + std::to_string(size) + " RGB");
    }
    cv::Mat target(size, size, CV_8UC3, images[static_cast<int64_t>(k)].data_ptr<std::uint8_t>());
    out.copyTo(target);
  });
  return images.permute({0, 3, 1, 2}).contiguous();
}

std::vector<std::size_t> epoch_order(const std::vector<int>& labels, int num_classes, bool balanced,
                                     std::size_t count, std::uint64_t seed) {
  // mt19937_64 is specified exactly by the standard; the index draws below use
  // it directly, so orders are the same with every standard library.
  std::mt19937_64 rng(seed);
  std::vector<std::size_t> order;
  order.reserve(count);
  if (balanced) {
    std::vector<std::vector<std::size_t>> by_class(static_cast<std::size_t>(num_classes));
    for (std::size_t i = 0; i < labels.size(); ++i) by_class.at(static_cast<std::size_t>(labels[i])).push_back(i);
    std::vector<std::size_t> present;
    for (std::size_t c = 0; c < by_class.size(); ++c) {
      if (!by_class[c].empty()) present.push_back(c);
    }
    while (order.size() < count) {
      const auto& members = by_class[present[rng() % present.size()]];
      order.push_back(members[rng() % members.size()]);
    }
    return order;
  }
  std::vector<std::size_t> shuffled(labels.size());
  while (order.size() < count) {
    for (std::size_t i = 0; i < shuffled.size(); ++i) shuffled[i] = i;
    for (std::size_t i = shuffled.size(); i > 1; --i) std::swap(shuffled[i - 1], shuffled[rng() % i]);
    for (std::size_t i = 0; i < shuffled.size() && order.size() < count; ++i) order.push_back(shuffled[i]);
  }
  return order;
}

}  // namespace derm
