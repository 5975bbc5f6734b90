#include "graphed_training_step.hpp"

#include <gtest/gtest.h>
#include <torch/cuda.h>

#include "derm/autocast.hpp"
#include "derm/graphed_forward.hpp"
#include "multi_tensor_adamw.hpp"
#include "training_loss.hpp"
#include "small_networks.hpp"

namespace derm {
namespace {

using testing::max_relative_difference;

// Without dropout: the same gradients from every run.
InceptionV3 training_network(const torch::Device& device) {
  return testing::small_network(6, 96, 80, device, /*dropout=*/0.0);
}

GraphedTrainingStep::Function loss_and_backward(InceptionV3& net) {
  return [&net](const torch::Tensor& x, const torch::Tensor& y) {
    auto loss = torch::nn::functional::cross_entropy(net->forward(x), y);
    loss.backward();
    return loss.detach();
  };
}

std::vector<torch::Tensor> gradients(InceptionV3& net) {
  std::vector<torch::Tensor> grads;
  for (const auto& p : net->parameters()) grads.push_back(p.grad().defined() ? p.grad().clone() : torch::Tensor());
  return grads;
}

TEST(GraphedTrainingStep, PlainCallsLeaveEachBatchsOwnGradients) {
  auto net = training_network(torch::kCPU);
  GraphedTrainingStep step(loss_and_backward(net), net->parameters(), /*use_graphs=*/true);
  const auto x1 = torch::randn({2, 3, 96, 96}), x2 = torch::randn({2, 3, 96, 96});
  const auto y = torch::tensor({0, 2}, torch::kInt64);
  step(x1, y);
  const auto loss2 = step(x2, y);  // not accumulated onto x1's gradients
  const auto grads2 = gradients(net);
  EXPECT_FALSE(step.replaying());

  for (auto& p : net->parameters()) p.mutable_grad() = torch::Tensor();
  const auto expected = torch::nn::functional::cross_entropy(net->forward(x2), y);
  expected.backward();
  EXPECT_NEAR(loss2.item<double>(), expected.item<double>(), 1e-5);
  const auto params = net->parameters();
  for (std::size_t i = 0; i < params.size(); ++i) {
    ASSERT_TRUE(grads2[i].defined()) << "parameter " << i;
    EXPECT_LT(max_relative_difference(grads2[i], params[i].grad()), 1e-4) << "parameter " << i;
  }
}

// Needs a GPU and a CUDA build: run on the device machine (bench/gpu/device_session.sh).
TEST(GraphedTrainingStep, ReplaysGiveThePlainLossesAndGradientsOnCuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  if (!cuda_graphs_built()) GTEST_SKIP() << "built against a LibTorch without CUDA";
  const torch::Device cuda(torch::kCUDA);
  auto net = training_network(cuda);
  std::vector<torch::Tensor> xs;
  for (int i = 0; i < 6; ++i) xs.push_back(torch::randn({4, 3, 96, 96}, cuda));
  const auto y = torch::tensor({0, 1, 2, 1}, torch::kInt64).to(cuda);

  GraphedTrainingStep graphed(loss_and_backward(net), net->parameters(), /*use_graphs=*/true, /*plain_steps=*/2);
  std::vector<torch::Tensor> losses;
  std::vector<std::vector<torch::Tensor>> grads;
  for (const auto& x : xs) {
    losses.push_back(graphed(x, y));
    grads.push_back(gradients(net));
  }
  EXPECT_TRUE(graphed.replaying());  // calls 3 to 6: recorded, then replayed

  // No optimizer step happened, so plain calls see the same weights (BatchNorm
  // in training mode normalises by batch statistics: running ones do not matter).
  GraphedTrainingStep plain(loss_and_backward(net), net->parameters(), /*use_graphs=*/false);
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const auto loss = plain(xs[i], y);
    EXPECT_LT(max_relative_difference(losses[i], loss), 1e-3) << "call " << i;
    const auto expected = gradients(net);
    for (std::size_t k = 0; k < expected.size(); ++k) {
      ASSERT_TRUE(grads[i][k].defined()) << "call " << i << " parameter " << k;
      EXPECT_LT(max_relative_difference(grads[i][k], expected[k]), 2e-2) << "call " << i << " parameter " << k;
    }
  }
  EXPECT_FALSE(plain.replaying());
}

// As derm-train trains on CUDA: bf16 autocast, channels_last weights and
// inputs, dropout reseeded before each step, cuDNN benchmark on, label
// smoothing, and an AdamW step after each. Replays must follow an identical
// network trained with plain steps, step for step: a replay that read stale
// weights (or a stale bf16 copy of them) would fall behind it.
TEST(GraphedTrainingStep, ReplaysFollowPlainTrainingThroughOptimizerStepsOnCuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  if (!cuda_graphs_built()) GTEST_SKIP() << "built against a LibTorch without CUDA";
  const torch::Device cuda(torch::kCUDA);
  const bool benchmark_was = at::globalContext().benchmarkCuDNN();
  at::globalContext().setBenchmarkCuDNN(true);
  const auto channels_last_network = [&] {
    auto net = testing::small_network(6, 96, 80, cuda, /*dropout=*/0.5);
    for (auto& p : net->parameters()) {
      if (p.dim() == 4) p.set_data(p.data().contiguous(torch::MemoryFormat::ChannelsLast));
    }
    return net;
  };
  const auto loss_of_batch = [](InceptionV3& net) {
    return [&net](const torch::Tensor& x, const torch::Tensor& y) {
      torch::Tensor loss;
      {
        Bf16Autocast cast(true, x.device());
        loss = mean_cross_entropy(net->forward(x).to(torch::kFloat32), y, 0.1, {});
      }
      loss.backward();
      return loss.detach();
    };
  };
  auto graphed_net = channels_last_network(), plain_net = channels_last_network();
  const torch::optim::AdamWOptions adamw = torch::optim::AdamWOptions(1e-2).weight_decay(0.05);
  MultiTensorAdamW graphed_optimizer(graphed_net->parameters(), adamw), plain_optimizer(plain_net->parameters(), adamw);
  GraphedTrainingStep graphed(loss_of_batch(graphed_net), graphed_net->parameters(), /*use_graphs=*/true,
                              /*plain_steps=*/2);
  GraphedTrainingStep plain(loss_of_batch(plain_net), plain_net->parameters(), /*use_graphs=*/false);
  const auto y = torch::tensor({0, 1, 2, 1}, torch::kInt64).to(cuda);
  for (int step = 0; step < 8; ++step) {
    const auto x = torch::randn({4, 3, 96, 96}, cuda).contiguous(torch::MemoryFormat::ChannelsLast);
    torch::manual_seed(1000 + step);
    const auto graphed_loss = graphed(x, y);
    graphed_optimizer.step();
    torch::manual_seed(1000 + step);
    const auto plain_loss = plain(x, y);
    plain_optimizer.step();
    EXPECT_LT(max_relative_difference(graphed_loss, plain_loss), 2e-2) << "step " << step;
  }
  EXPECT_TRUE(graphed.replaying());
  at::globalContext().setBenchmarkCuDNN(benchmark_was);

  torch::NoGradGuard no_grad;
  auto plain_parameters = plain_net->named_parameters();
  for (const auto& item : graphed_net->named_parameters()) {
    EXPECT_LT(max_relative_difference(item.value(), plain_parameters[item.key()]), 5e-2) << item.key();
  }
  auto plain_buffers = plain_net->named_buffers();
  for (const auto& item : graphed_net->named_buffers()) {
    if (item.key().find("running_mean") == std::string::npos) continue;
    EXPECT_LT(max_relative_difference(item.value(), plain_buffers[item.key()]), 5e-2) << item.key();
  }
  // The weights moved: a replay that left them alone could not follow.
  const auto initial = channels_last_network();
  EXPECT_GT(max_relative_difference(graphed_net->Conv2d_1a_3x3->conv->weight,
                                    initial->Conv2d_1a_3x3->conv->weight), 5e-2);
}

}  // namespace
}  // namespace derm
