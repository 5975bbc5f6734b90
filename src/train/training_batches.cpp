#include "training_batches.hpp"

#include <algorithm>

#include "derm/augment/sample_seed.hpp"
#include "derm/core/parallel.hpp"
#include "derm/core/progress.hpp"
#include "derm/model/tensor_image.hpp"
#include "derm/train/tensor_augment.hpp"

namespace derm {

TrainingBatches host_batches(std::shared_ptr<TrainingSet> set, const torch::Device& device) {
  TrainingBatches batches;
  batches.labels = set->labels();
  batches.make = [set, device](const std::vector<std::size_t>& indices, const std::vector<std::uint64_t>& seeds) {
    return set->batch(indices, seeds).to(device);
  };
  return batches;
}

TrainingBatches device_batches(const SampleSource& source, const Augmenter& augmenter, ResizePolicy policy,
                               const torch::Device& device, int workers, bool quiet) {
  std::vector<cv::Mat> decoded(source.labels.size());
  Progress progress("decoding to " + device.str(), static_cast<std::int64_t>(decoded.size()), quiet);
  parallel_for(decoded.size(), workers, [&](std::size_t i) {
    decoded[i] = source.load(i);
    progress.advance();
  });
  progress.finish();
  int side = 1;
  for (const auto& image : decoded) side = std::max({side, image.cols, image.rows});
  side = std::min(side, augmenter.working_side());
  auto images = torch::empty({static_cast<int64_t>(decoded.size()), 3, side, side}, torch::kUInt8);
  parallel_for(decoded.size(), workers, [&](std::size_t i) {
    images[static_cast<int64_t>(i)].copy_(to_chw_uint8(resize_to_square(decoded[i], side, policy)));
    decoded[i].release();
  });
  TrainingBatches batches;
  batches.labels = source.labels;
  batches.on_device = true;
  auto resident = images.to(device);
  auto augment = std::make_shared<TensorAugmenter>(augmenter);
  batches.make = [resident, augment](const std::vector<std::size_t>& indices, const std::vector<std::uint64_t>& seeds) {
    std::vector<int64_t> rows(indices.begin(), indices.end());
    const auto selected = resident.index_select(0, torch::tensor(rows, torch::kInt64).to(resident.device()));
    return augment->apply(selected, seeds);
  };
  return batches;
}

TrainingBatches training_batches(const TrainOptions& o, SampleSource source, const Augmenter* augmenter,
                                 const Preprocessing& preprocessing, const torch::Device& device) {
  const std::int64_t device_bytes =
      augmenter ? static_cast<std::int64_t>(source.labels.size()) * 3 * augmenter->working_side() * augmenter->working_side()
                : 0;
  const bool on_device =
      augmenter && (o.data_placement == DataPlacement::device ||
                    (o.data_placement == DataPlacement::automatic && device.is_cuda() &&
                     std::min(device_bytes, source.decoded_bytes) <= o.device_cache_mb * (std::int64_t{1} << 20)));
  if (on_device) return device_batches(source, *augmenter, o.resize_policy, device, o.workers, o.quiet);
  return host_batches(
      std::make_shared<TrainingSet>(std::move(source), preprocessing, augmenter, o.cache_mb, o.workers, o.quiet),
      device);
}

EpochBatches::EpochBatches(const TrainingBatches& batches, std::vector<std::size_t> order, int batch_size,
                           std::uint64_t member_seed, int epoch, const torch::Device& device, BatchSlice slice)
    : batches_(batches),
      order_(std::move(order)),
      batch_size_(batch_size),
      slice_(slice.size > 0 ? slice : BatchSlice{0, batch_size}),
      member_seed_(member_seed),
      epoch_(epoch),
      device_(device),
      steps_(static_cast<std::int64_t>(order_.size()) / batch_size) {}

std::pair<torch::Tensor, torch::Tensor> EpochBatches::load(std::int64_t k) const {
  const std::int64_t position = k * batch_size_ + slice_.first;  // of the slice's first image in the epoch
  const auto first = order_.begin() + position;
  std::vector<std::size_t> indices(first, first + slice_.size);
  std::vector<std::uint64_t> seeds;
  std::vector<int64_t> labels;
  for (std::size_t i = 0; i < indices.size(); ++i) {
    seeds.push_back(derive_seed(member_seed_, static_cast<std::uint64_t>(epoch_) + 1,
                                static_cast<std::uint64_t>(position) + i));
    labels.push_back(batches_.labels[indices[i]]);
  }
  return {batches_.make(indices, seeds), torch::tensor(labels, torch::kInt64).to(device_)};
}

std::vector<int> EpochBatches::batch_labels(std::int64_t k) const {
  std::vector<int> labels;
  for (std::int64_t i = k * batch_size_; i < (k + 1) * batch_size_; ++i) {
    labels.push_back(batches_.labels[order_[static_cast<std::size_t>(i)]]);
  }
  return labels;
}

std::pair<torch::Tensor, torch::Tensor> EpochBatches::step(std::int64_t k) {
  auto batch = next_.valid() && next_step_ == k ? next_.get() : load(k);
  if (!batches_.on_device && k + 1 < steps_) {
    next_step_ = k + 1;
    next_ = std::async(std::launch::async, [this, k] { return load(k + 1); });
  }
  return batch;
}

}  // namespace derm
