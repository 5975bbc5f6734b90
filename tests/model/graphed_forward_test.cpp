#include "derm/model/graphed_forward.hpp"

#include <gtest/gtest.h>
#include <torch/cuda.h>

#include "small_networks.hpp"

namespace derm {
namespace {

using testing::max_relative_difference;

// As derm::Classifier runs a member on a GPU: eval mode, BatchNorm folded.
InceptionV3 inference_network(std::uint64_t seed, const torch::Device& device) {
  auto net = testing::small_network(seed, 96, 80, device);
  net->eval();
  net->fold_batch_norm();
  return net;
}

TEST(GraphedForward, OnTheCpuIsThePlainCall) {
  auto net = inference_network(5, torch::kCPU);
  int calls = 0;
  GraphedForward forward(
      [&](const torch::Tensor& x) {
        ++calls;
        return net->forward(x);
      },
      /*use_graphs=*/true);
  c10::InferenceMode inference_mode;
  const auto x = torch::randn({2, 3, 96, 96});
  EXPECT_TRUE(torch::equal(forward(x), net->forward(x)));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(forward.recordings(), 0u);
}

// Needs a GPU and a CUDA build: run on the device machine (bench/gpu/device_session.sh).
TEST(GraphedForward, ReplaysMatchPlainCallsOnCuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  if (!cuda_graphs_built()) GTEST_SKIP() << "built against a LibTorch without CUDA";
  const torch::Device cuda(torch::kCUDA);
  auto net = inference_network(5, cuda);
  GraphedForward forward([&](const torch::Tensor& x) { return net->forward(x); }, /*use_graphs=*/true);
  c10::InferenceMode inference_mode;
  std::vector<torch::Tensor> inputs, outputs;
  for (const auto batch : {1, 1, 4, 1, 4}) {
    inputs.push_back(torch::randn({batch, 3, 96, 96}, cuda));
    outputs.push_back(forward(inputs.back()));
  }
  EXPECT_EQ(forward.recordings(), 2u);  // batch 1 and batch 4
  // Each result is the caller's: later replays have not overwritten it.
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    EXPECT_LT(max_relative_difference(outputs[i], net->forward(inputs[i])), 1e-4) << "call " << i;
  }
  // A transposed view is copied into the recording's contiguous input.
  const auto view = inputs[0].transpose(2, 3);
  EXPECT_LT(max_relative_difference(forward(view), net->forward(view.contiguous())), 1e-4);
  EXPECT_EQ(forward.recordings(), 2u);
}

TEST(GraphedForward, EnsembleMembersSharingMemoryGiveTheirOwnResultsOnCuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  if (!cuda_graphs_built()) GTEST_SKIP() << "built against a LibTorch without CUDA";
  const torch::Device cuda(torch::kCUDA);
  auto first = inference_network(5, cuda);
  auto second = inference_network(7, cuda);
  const auto memory = GraphedForward::new_memory();
  GraphedForward a([&](const torch::Tensor& x) { return first->forward(x); }, true, memory);
  GraphedForward b([&](const torch::Tensor& x) { return second->forward(x); }, true, memory);
  c10::InferenceMode inference_mode;
  // Interleaved as Classifier calls its members, with two batch shapes.
  for (const auto batch : {2, 2, 3, 2, 3}) {
    const auto x = torch::randn({batch, 3, 96, 96}, cuda);
    const auto from_a = a(x);
    const auto from_b = b(x);
    EXPECT_LT(max_relative_difference(from_a, first->forward(x)), 1e-4) << "batch " << batch;
    EXPECT_LT(max_relative_difference(from_b, second->forward(x)), 1e-4) << "batch " << batch;
  }
  EXPECT_EQ(a.recordings(), 2u);
  EXPECT_EQ(b.recordings(), 2u);
}

TEST(GraphedForward, SwitchedOffIsThePlainCallOnCuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const torch::Device cuda(torch::kCUDA);
  auto net = inference_network(5, cuda);
  GraphedForward forward([&](const torch::Tensor& x) { return net->forward(x); }, /*use_graphs=*/false);
  c10::InferenceMode inference_mode;
  const auto x = torch::randn({1, 3, 96, 96}, cuda);
  EXPECT_LT(max_relative_difference(forward(x), net->forward(x)), 1e-6);
  EXPECT_EQ(forward.recordings(), 0u);
}

}  // namespace
}  // namespace derm
