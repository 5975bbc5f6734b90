#pragma once
// Training one ensemble member, epoch by epoch: train on the training split,
// test on the validation split, keep the best epoch, checkpoint, and stop
// early or at the time limit.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <torch/torch.h>

#include "derm/data/manifest.hpp"
#include "derm/distributed/process_group.hpp"
#include "derm/model/ensemble_folder.hpp"
#include "derm/model/model_metadata.hpp"
#include "derm/train/train_options.hpp"
#include "training_batches.hpp"
#include "training_set.hpp"

namespace derm {

using Clock = std::chrono::steady_clock;

// What the members of one derm-train run share.
struct TrainingRun {
  const TrainOptions& options;
  const Manifest& manifest;
  std::string manifest_fingerprint;
  torch::Device device;
  const TrainingBatches& train;
  const TrainingSet* val;  // null without validation
  std::optional<ModelMetadata> init_metadata;
  EnsembleFolder folder;
  std::int64_t steps_this_process = 0;
  std::optional<Clock::time_point> member_deadline;  // time_limit_minutes: this member's share ends here
  // The ranks that share each step's batch (distribute data); null: this process alone.
  ProcessGroup* group = nullptr;
};

// Trains member `member` (resuming from its checkpoint when there is one) and
// writes its model file and record into the run's folder.
void train_member(TrainingRun& run, int member);

// The number of epochs to plan for, at most `most`: those done and as many more
// as end by the deadline at the pace of the last one (validation included).
int epochs_that_fit(int most, int done, Clock::duration last_epoch, Clock::time_point now, Clock::time_point deadline);

}  // namespace derm
