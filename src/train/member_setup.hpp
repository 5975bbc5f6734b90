#pragma once
// Setting up one ensemble member: its network (from scratch or from an init model), what
// trains in each stage, its optimiser and its learning-rate schedule.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "derm/model/model_io.hpp"
#include "derm/train/train_options.hpp"

namespace derm {

// The member's architecture, classes and preprocessing; with an init model its
// transform_input and normalisation are the source model's.
ModelMetadata member_metadata(const TrainOptions& options, const std::vector<std::string>& classes,
                              const std::optional<ModelMetadata>& init);

// Whether the init model's classifier heads go on training: it has the manifest's classes.
bool keeps_init_heads(const TrainOptions& options, const std::optional<ModelMetadata>& init,
                      const std::vector<std::string>& classes);

// The network to train: initialised for training, then the init model's weights
// loaded strictly (the stem, new heads and an absent auxiliary head excepted).
Model initial_model(const TrainOptions& options, const ModelMetadata& metadata, bool keep_init_heads);

// Only the classifier heads learn in the head-only stage, whose backbone
// BatchNorm statistics stay as loaded.
void set_trainable(InceptionV3& net, bool heads_only);
void set_training_mode(InceptionV3& net, bool heads_only);

// SGD with Nesterov momentum, or AdamW by multi-tensor kernels.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainOptions& options, InceptionV3& net);

// Inverse-frequency class weights (mean 1 over the training images) for
// balance loss; undefined otherwise.
torch::Tensor class_weights(const TrainOptions& options, const std::vector<int>& labels, std::size_t classes,
                            const torch::Device& device);

// The member's steps: epochs of samples_per_epoch images in batches, a
// head-only stage first, a linear warm-up, then cosine decay to zero.
struct Schedule {
  int head_epochs = 0;
  std::int64_t samples_per_epoch = 0;
  std::int64_t steps_per_epoch = 0;
  std::int64_t warmup_steps = 0;

  Schedule(const TrainOptions& options, std::size_t training_images, bool keep_init_heads);
  // The learning rate of global step `step` (0-based) of a run of `planned_epochs`.
  double learning_rate(double peak, std::int64_t step, int planned_epochs) const;
};

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);

}  // namespace derm
