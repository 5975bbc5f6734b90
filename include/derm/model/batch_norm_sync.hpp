#pragma once
// BatchNorm over a batch split between processes (SyncBatchNorm): while a
// BatchNormSync is installed in a thread (SyncBatchNormScope), the BatchNorm
// layers of derm's networks that are in training mode normalise by the mean
// and variance of every process's part of the batch, and update their running
// statistics with them, as one process holding the whole batch would.
#include <torch/torch.h>

namespace derm {

class BatchNormSync {
 public:
  virtual ~BatchNormSync() = default;
  // Every process's `local` (the same shape on each), stacked: processes x
  // local's shape; the gradient reaching `local` is the sum over the processes
  // of the gradients of its row.
  virtual torch::Tensor all_gather(const torch::Tensor& local) const = 0;
};

class SyncBatchNormScope {
 public:
  explicit SyncBatchNormScope(const BatchNormSync* sync);
  ~SyncBatchNormScope();
  SyncBatchNormScope(const SyncBatchNormScope&) = delete;
  SyncBatchNormScope& operator=(const SyncBatchNormScope&) = delete;

 private:
  const BatchNormSync* previous_;
};

// bn(x); with synchronised statistics while a scope is active and bn is training.
torch::Tensor batch_norm(torch::nn::BatchNorm2d& bn, const torch::Tensor& x);

}  // namespace derm
