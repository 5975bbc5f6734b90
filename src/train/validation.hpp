#pragma once
// A member's validation after each epoch: loss, accuracy and the positive
// classes' AUCs (derm::positive_class_aucs) on the validation split.
#include <limits>
#include <map>
#include <string>

#include <torch/torch.h>

#include "derm/distributed/process_group.hpp"
#include "derm/model/inception_v3.hpp"
#include "derm/model/model_metadata.hpp"
#include "training_set.hpp"

namespace derm {

struct Validation {
  double loss = 0;
  double accuracy = 0;
  std::map<std::string, double> auc;  // positive classes with both labels present
  double mean_auc = std::numeric_limits<double>::quiet_NaN();
};

// The network in eval mode on every validation image, batch_size at a time
// (bf16 autocast when `autocast`). With a process group, rank r runs batches
// r, r + W, ... and every rank gets the figures of all of them.
Validation validate_member(InceptionV3& net, const TrainingSet& val, const ModelMetadata& metadata,
                           const torch::Device& device, int batch_size, bool autocast, ProcessGroup* group = nullptr);

}  // namespace derm
