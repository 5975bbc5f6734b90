#pragma once
// Data parallelism with DistributedDataParallel's semantics: a step's global
// batch is split into micro-batches, over the ranks of a process group and,
// within a rank, over accumulation steps; the gradients are summed over all of
// them, and BatchNorm's running statistics are the mean of the micro-batches'
// updates (or, with synchronised BatchNorm, the whole batch's). K accumulated
// micro-batches in one process are thus the same step as K ranks of one each.
#include <cstdint>
#include <memory>
#include <vector>

#include <torch/torch.h>

#include "derm/distributed/process_group.hpp"
#include "derm/model/batch_norm_sync.hpp"

namespace derm {

// Sums the gradients of `parameters` over the ranks during the backward pass
// of the last micro-batch: buckets of about `bucket_bytes`, filled in reverse
// registration order (roughly the order backward produces gradients, so the
// first buckets' all-reduces overlap the rest of it) and all-reduced
// asynchronously in bucket order, the same on every rank.
class GradientBuckets {
 public:
  GradientBuckets(ProcessGroup& group, std::vector<torch::Tensor> parameters,
                  std::int64_t bucket_bytes = std::int64_t{25} << 20);
  ~GradientBuckets();
  GradientBuckets(const GradientBuckets&) = delete;
  GradientBuckets& operator=(const GradientBuckets&) = delete;

  // The next backward pass completes the step's gradients: the ones of the
  // earlier micro-batches (in .grad) are taken aside and added in the buckets.
  void arm();
  // After that backward pass: every parameter's .grad is its gradient summed
  // over the micro-batches of every rank.
  void finish();

 private:
  struct Bucket {
    torch::Tensor flat;
    std::vector<std::size_t> members;  // indices into parameters_
    std::size_t ready = 0;
    bool launched = false;
    ProcessGroup::Pending pending;
  };
  void on_gradient(std::size_t parameter, const torch::Tensor& gradient);
  void launch_ready();

  ProcessGroup& group_;
  std::vector<torch::Tensor> parameters_;
  std::vector<unsigned> hooks_;
  std::vector<Bucket> buckets_;
  std::vector<std::size_t> bucket_of_;      // per parameter
  std::vector<std::int64_t> offset_of_;     // per parameter, in its bucket
  std::vector<bool> arrived_;               // per parameter, in the armed backward pass
  std::vector<torch::Tensor> earlier_;      // per parameter: earlier micro-batches' gradient, or undefined
  bool armed_ = false;
  std::size_t next_launch_ = 0;
};

// BatchNorm's running statistics over the micro-batches of a step: each
// micro-batch updates them from where the step began, and the step keeps the
// mean of those updates over the micro-batches of every rank (integer buffers,
// BatchNorm's counts, move once per step).
class RunningStatistics {
 public:
  RunningStatistics(ProcessGroup* group, std::vector<torch::Tensor> buffers, int micro_batches_here);
  void before_micro_batch(int k);
  void after_micro_batch(int k);
  void finish_step();

 private:
  ProcessGroup* group_;
  std::vector<torch::Tensor> buffers_;  // floating-point ones
  int micro_batches_here_;
  std::vector<torch::Tensor> start_, sum_;
};

// Synchronised BatchNorm's gathering over a process group.
class GroupBatchNormSync : public BatchNormSync {
 public:
  explicit GroupBatchNormSync(ProcessGroup& group) : group_(group) {}
  torch::Tensor all_gather(const torch::Tensor& local) const override {
    return group_.all_gather_differentiable(local);
  }

 private:
  ProcessGroup& group_;
};

}  // namespace derm
