#pragma once
// Resumable training state of one ensemble member: network, optimiser and the
// loop's position, in one file written atomically.
#include <cstdint>
#include <filesystem>
#include <limits>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "weight_average.hpp"

namespace derm {

struct TrainingState {
  int epoch = 0;             // epochs completed
  int planned_epochs = 0;    // the schedule's length: epochs, or fewer to fit the time limit
  int step_in_epoch = 0;     // steps of the current epoch completed
  std::int64_t global_step = 0;
  double best_metric = std::numeric_limits<double>::quiet_NaN();  // higher is better
  int best_epoch = -1;
  int stale_epochs = 0;      // epochs since the best one
  double epoch_loss_sum = 0;  // training loss of the current epoch so far
  int epoch_loss_count = 0;
  bool stopped_early = false;
  // How the steps were computed: micro-batches per step (ranks x accumulation
  // steps) and synchronised BatchNorm. Another split resumes, but not bit-identically.
  int micro_batches = 1;
  bool sync_batchnorm = false;
  nlohmann::json history = nlohmann::json::array();  // one record per epoch
};

// `identity` records what must not change between a run and its resumption
// (options, manifest, seed); a mismatch on load is a derm::Error. `average`
// (--ema-decay; null without) is saved and restored with the network.
void save_checkpoint(const std::filesystem::path& path, torch::nn::Module& network, torch::optim::Optimizer& optimizer,
                     const WeightAverage* average, const TrainingState& state, const nlohmann::json& identity);
// False when there is no checkpoint; otherwise restores everything.
bool load_checkpoint(const std::filesystem::path& path, torch::nn::Module& network, torch::optim::Optimizer& optimizer,
                     WeightAverage* average, TrainingState* state, const nlohmann::json& identity,
                     const torch::Device& device);

}  // namespace derm
