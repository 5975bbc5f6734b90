#pragma once
// This process's membership of a distributed job on PyTorch's own engine
// (c10d): rendezvous through a TCPStore that rank 0 hosts at MASTER_ADDR:
// MASTER_PORT, collectives over Gloo (CPU tensors) or NCCL (CUDA tensors), and
// a heartbeat per rank in the store, so that a collective that fails or times
// out names the rank that stopped.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "derm/core/error.hpp"
#include "derm/distributed/launch.hpp"

namespace derm {

// A collective that failed or timed out: one line naming the rank that
// stopped, when one did.
class DistributedError : public Error {
 public:
  using Error::Error;
};

class ProcessGroup {
 public:
  // Joins the job described by `launch` (distributed()). Backend auto: NCCL for
  // a CUDA device, Gloo for the CPU. Rendezvous and every collective give up
  // after `timeout`. derm::Error when rank 0's port is taken, the store cannot
  // be reached or not every rank arrives in time.
  ProcessGroup(const LaunchInfo& launch, DistBackend backend, const torch::Device& device,
               std::chrono::milliseconds timeout);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const;
  int size() const;
  const std::string& backend() const;  // "gloo" or "nccl"

  // An all-reduce in flight.
  class Pending {
   public:
    Pending();
    ~Pending();
    Pending(Pending&&) noexcept;
    Pending& operator=(Pending&&) noexcept;
    // Waits for it; DistributedError when it failed.
    void wait();

   private:
    friend class ProcessGroup;
    struct Work;
    std::unique_ptr<Work> work_;
  };

  // Each sums `tensor` over the ranks in place (the async one: a contiguous
  // tensor on the backend's device, the CPU for Gloo, the rank's GPU for NCCL;
  // the others take any); `what` names the collective in errors. Every rank
  // must make the same collectives in the same order.
  Pending all_reduce_sum_async(torch::Tensor tensor, const std::string& what);
  void all_reduce_sum(torch::Tensor tensor, const std::string& what);
  // Rank 0's values into every rank's tensors (any dtypes and shapes).
  void broadcast(const std::vector<torch::Tensor>& tensors, const std::string& what);
  // Every rank's `tensor` (the same shape on each), stacked: size() x tensor's shape.
  torch::Tensor all_gather(const torch::Tensor& tensor, const std::string& what);
  // Every rank's rows (N_r x ..., N_r may differ), concatenated in rank order.
  torch::Tensor all_gather_rows(const torch::Tensor& rows, const std::string& what);
  // all_gather for autograd: the gradient of this rank's `tensor` is the sum
  // over the ranks of the gradients of its row (as each rank's loss uses it).
  torch::Tensor all_gather_differentiable(const torch::Tensor& tensor);

  // Rank 0 waits until every rank has called arrive(name): for as long as it
  // takes while the ranks' heartbeats go on; DistributedError naming a rank
  // whose heartbeat stops before it arrives.
  void arrive(const std::string& name);
  void wait_for_all(const std::string& name);

 private:
  struct State;
  [[noreturn]] void fail(const std::string& what, const std::string& reason);
  std::unique_ptr<State> state_;
};

}  // namespace derm
