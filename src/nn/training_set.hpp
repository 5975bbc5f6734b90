#pragma once
// The images of one manifest split as network input: decoded once into memory
// when they fit, augmented per sample from a seed, batched as uint8 tensors.
#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "derm/augment.hpp"
#include "derm/manifest.hpp"
#include "derm/model_metadata.hpp"

namespace derm {

class TrainingSet {
 public:
  // augmenter may be null (validation, or --no-augment): images are then only
  // resized by the preprocessing policy.
  TrainingSet(std::vector<ManifestEntry> entries, const Preprocessing& preprocessing, const Augmenter* augmenter,
              std::int64_t cache_mb, int workers, bool quiet);

  std::size_t size() const { return entries_.size(); }
  const std::vector<int>& labels() const { return labels_; }

  // uint8 N x 3 x S x S; sample k is entry indices[k], augmented with seeds[k]
  // when there is an augmenter.
  torch::Tensor batch(const std::vector<std::size_t>& indices, const std::vector<std::uint64_t>& seeds) const;

 private:
  cv::Mat source(std::size_t i) const;   // cached or freshly decoded, prepared for the pipeline
  cv::Mat prepared(const cv::Mat& rgb) const;

  std::vector<ManifestEntry> entries_;
  std::vector<int> labels_;
  Preprocessing preprocessing_;
  const Augmenter* augmenter_;
  int workers_;
  std::vector<cv::Mat> cache_;  // empty when the split does not fit in cache_mb
};

// The sample order of one epoch: `count` entry indices, a seeded shuffle of all
// entries (repeated as needed), or with `balanced` class-balanced draws (each
// class equally likely, then an entry of that class).
std::vector<std::size_t> epoch_order(const std::vector<int>& labels, int num_classes, bool balanced,
                                     std::size_t count, std::uint64_t seed);

}  // namespace derm
