#pragma once
// derm-train as a library call: fine-tune (or train from scratch) an ensemble of
// Inception v3 networks on a derm-prep manifest. No LibTorch in this header.
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "derm/train/train_options.hpp"

namespace derm {

// Validates the options (derm::OptionError naming the option), trains every
// selected member into the ensemble folder (derm/model/ensemble_folder.hpp),
// writes ensemble.json once every member is there and summary.json, and
// returns the summary. Started as one rank of several (torchrun, srun: see
// derm/distributed/launch.hpp), it trains with the others as options.distribute
// says; rank 0 writes the files and returns the summary, the others null.
nlohmann::json train_ensemble(const TrainOptions& options);

// Thrown when stop_after_steps ends a run (a resumable stop, as if killed).
struct TrainingInterrupted : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace derm
