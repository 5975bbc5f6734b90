#pragma once
// Batch feeding: the training images as batches on the training device, and
// one epoch's batches in step order.
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "derm/augment/augmenter.hpp"
#include "derm/train/train_options.hpp"
#include "training_set.hpp"

namespace derm {

struct TrainingBatches {
  std::vector<int> labels;
  bool on_device = false;
  // uint8 N x 3 x S x S on the device: images indices[k], augmented with seeds[k].
  std::function<torch::Tensor(const std::vector<std::size_t>&, const std::vector<std::uint64_t>&)> make;
};

// Prepared and augmented on the host per image (OpenCV), then copied to the device.
TrainingBatches host_batches(std::shared_ptr<TrainingSet> set, const torch::Device& device);
// Every image decoded once, made square by the resize policy at the side the
// augmentation needs (no larger than the largest source), held on the device
// and augmented there in batches (derm::TensorAugmenter).
TrainingBatches device_batches(const SampleSource& source, const Augmenter& augmenter, ResizePolicy policy,
                               const torch::Device& device, int workers, bool quiet);

// The training split's batches where options.data_placement puts them: on the
// device (auto: on CUDA, when the images fit device_cache_mb) only with an augmenter.
TrainingBatches training_batches(const TrainOptions& options, SampleSource source, const Augmenter* augmenter,
                                 const Preprocessing& preprocessing, const torch::Device& device);

// One epoch's batches: step k holds images order[k*B, (k+1)*B), each augmented
// with derive_seed(member_seed, epoch + 1, position in the epoch), so a batch
// is a function of (epoch, k) alone and a resumed run sees the same ones. A
// rank of a distributed run loads its slice of each batch alone: positions
// [first, first + size) of it, augmented as in the whole batch.
// Host batches are prepared one step ahead while the network works; device
// ones in the caller's thread (they share torch's random generator with dropout).
struct BatchSlice {
  int first = 0;
  int size = 0;  // 0: the whole batch
};

class EpochBatches {
 public:
  EpochBatches(const TrainingBatches& batches, std::vector<std::size_t> order, int batch_size,
               std::uint64_t member_seed, int epoch, const torch::Device& device, BatchSlice slice = {});

  // Step k's images of the slice (uint8, on the device) and their labels; steps are asked for in order.
  std::pair<torch::Tensor, torch::Tensor> step(std::int64_t k);
  // The labels of step k's whole batch.
  std::vector<int> batch_labels(std::int64_t k) const;

 private:
  std::pair<torch::Tensor, torch::Tensor> load(std::int64_t k) const;

  const TrainingBatches& batches_;
  std::vector<std::size_t> order_;
  int batch_size_;
  BatchSlice slice_;
  std::uint64_t member_seed_;
  int epoch_;
  torch::Device device_;
  std::int64_t steps_;
  std::int64_t next_step_ = -1;
  std::future<std::pair<torch::Tensor, torch::Tensor>> next_;
};

}  // namespace derm
