#pragma once
// Inception v3's inference forward pass on the CPU as a fixed list of oneDNN
// primitives, planned once per input size for one image: every BatchNorm folded into its
// convolution, ReLU (the stem's LeakyReLU) fused into it as a post-op, the
// weights reordered once into the layout each convolution's kernel reads, and
// the activations laid out in one arena, buffers whose lifetimes do not overlap
// sharing memory. LibTorch's own path reorders each weight on every call and
// runs BatchNorm and ReLU as passes of their own.
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace derm {

struct InceptionV3Impl;
class PackedWeights;

// One input size (H x W) and thread count. A batch runs image by image: on a
// few cores a planned batch of one is as fast per image as a larger one (on
// the 2-core EPYC, before the stem ran in strips: 72 ms per 700x700 image
// planned as a batch of 8, 70 ms one at a time), and one plan serves every
// batch size. The network must stay in eval mode with float32 CPU
// weights; CpuInferencePlans checks that the weights it was planned from are unchanged.
class CpuInferencePlan {
 public:
  CpuInferencePlan(InceptionV3Impl& network, int64_t height, int64_t width, PackedWeights& packed);
  ~CpuInferencePlan();
  CpuInferencePlan(const CpuInferencePlan&) = delete;
  CpuInferencePlan& operator=(const CpuInferencePlan&) = delete;

  // x: N x 3 x H x W, float32 -> N x 2048, the pooled features fc reads.
  torch::Tensor features(const torch::Tensor& x);
  // 1 x 3 x H x W.
  const std::vector<int64_t>& input_shape() const;
  // The oneDNN implementation behind each primitive, in order (e.g. "brgconv:avx512_core").
  std::vector<std::string> implementations() const;
  // The activations' arena, in bytes.
  int64_t arena_bytes() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// A network's plans by input size and thread count (a few, the oldest
// dropped), sharing the reordered weights; all dropped when a parameter or
// buffer of the network has changed since they were made (its data or
// version; the tensors are the module's at the first call). One call at a time.
class CpuInferencePlans {
 public:
  CpuInferencePlans();
  ~CpuInferencePlans();
  // The plan for x's size (made now if needed) -> its features.
  torch::Tensor features(InceptionV3Impl& network, const torch::Tensor& x);
  // Makes the plan for H x W inputs and runs it once on zeros (first touch of its memory).
  void prepare(InceptionV3Impl& network, int64_t height, int64_t width);
  // The plan features() would use for H x W inputs now, or nullptr.
  const CpuInferencePlan* find(int64_t height, int64_t width) const;

 private:
  CpuInferencePlan& plan_for(InceptionV3Impl& network, int64_t height, int64_t width);

  std::mutex mutex_;
  std::unique_ptr<PackedWeights> packed_;
  std::vector<torch::Tensor> watched_;                            // the network's parameters and buffers
  std::vector<std::pair<const void*, uint32_t>> watched_state_;  // their data and versions at the last plan
  std::vector<std::pair<std::vector<int64_t>, std::unique_ptr<CpuInferencePlan>>> plans_;  // key: H, W, threads
};

}  // namespace derm
