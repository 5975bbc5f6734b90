#pragma once
// Labelled images as network input: decoded once into memory when they fit,
// augmented per sample from a seed, batched as uint8 tensors.
#include <cstdint>
#include <functional>
#include <vector>

#include <torch/torch.h>

#include "derm/augment/augmenter.hpp"
#include "derm/data/manifest.hpp"
#include "derm/model/model_metadata.hpp"

namespace derm {

// Where the images come from: a manifest split, or derm-augment shards.
struct SampleSource {
  std::vector<int> labels;
  std::function<cv::Mat(std::size_t)> load;  // decoded RGB; thread-safe
  std::int64_t decoded_bytes = 0;            // estimate, for the cache decision
};

SampleSource manifest_source(const std::vector<ManifestEntry>& entries);
// The samples of a derm-augment run made from this manifest's `split`
// (derm::Error naming the folder when it was made from other data).
SampleSource shard_source(const std::filesystem::path& dir, const Manifest& manifest, const std::string& split);

class TrainingSet {
 public:
  // augmenter may be null (validation, pre-augmented shards, --no-augment):
  // images are then only resized by the preprocessing policy.
  TrainingSet(SampleSource source, const Preprocessing& preprocessing, const Augmenter* augmenter,
              std::int64_t cache_mb, int workers, bool quiet);

  std::size_t size() const { return source_.labels.size(); }
  const std::vector<int>& labels() const { return source_.labels; }

  // uint8 N x 3 x S x S; sample k is image indices[k], augmented with seeds[k]
  // when there is an augmenter.
  torch::Tensor batch(const std::vector<std::size_t>& indices, const std::vector<std::uint64_t>& seeds) const;

 private:
  cv::Mat source(std::size_t i) const;  // cached or freshly decoded, prepared for the pipeline
  cv::Mat prepared(const cv::Mat& rgb) const;

  SampleSource source_;
  Preprocessing preprocessing_;
  const Augmenter* augmenter_;
  int workers_;
  std::vector<cv::Mat> cache_;  // empty when the images do not fit in cache_mb
};

// The sample order of one epoch: `count` indices, a seeded shuffle of all
// images (repeated as needed), or with `balanced` class-balanced draws (each
// class equally likely, then an image of that class).
std::vector<std::size_t> epoch_order(const std::vector<int>& labels, int num_classes, bool balanced,
                                     std::size_t count, std::uint64_t seed);

}  // namespace derm
