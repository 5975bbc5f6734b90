#include "weight_average.hpp"

#include <stdexcept>

#include <gtest/gtest.h>

namespace derm {
namespace {

// A linear layer, BatchNorm and a channels-last convolution (as derm-train's
// on CUDA): parameters, floating-point running statistics and the integer
// num_batches_tracked.
struct NetImpl : torch::nn::Module {
  NetImpl() {
    fc = register_module("fc", torch::nn::Linear(3, 2));
    bn = register_module("bn", torch::nn::BatchNorm1d(2));
    conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(2, 4, 3).bias(false)));
    conv->weight.set_data(conv->weight.contiguous(torch::MemoryFormat::ChannelsLast));
  }
  torch::nn::Linear fc{nullptr};
  torch::nn::BatchNorm1d bn{nullptr};
  torch::nn::Conv2d conv{nullptr};
};
TORCH_MODULE(Net);

// Sets every floating-point tensor of the network to `value` plus its index, and num_batches_tracked to `count`.
void set_weights(Net& net, double value, std::int64_t count) {
  torch::NoGradGuard no_grad;
  net->fc->weight.copy_(torch::arange(6, torch::kFloat32).reshape({2, 3}) + value);
  net->fc->bias.fill_(value);
  net->bn->weight.fill_(value + 1);
  net->bn->bias.fill_(value - 1);
  net->bn->running_mean.fill_(2 * value);
  net->bn->running_var.fill_(value * value);
  net->bn->num_batches_tracked.fill_(count);
  net->conv->weight.fill_(3 * value);
}

void expect_the_decayed_mean(const torch::Device& device) {
  Net net;
  net->to(device);
  set_weights(net, 1.0, 0);
  WeightAverage average(*net, /*decay=*/0.2);
  set_weights(net, 5.0, 1);
  average.update(1);  // d = min(0.2, 2/11) = 2/11
  set_weights(net, -3.0, 2);
  average.update(2);  // d = min(0.2, 3/12) = 0.2

  const auto expected = [](double w0, double w1, double w2) {
    const double d1 = 2.0 / 11.0;
    const double a1 = d1 * w0 + (1 - d1) * w1;
    return 0.2 * a1 + 0.8 * w2;
  };
  // float32 values of at most 25 through two multiply-adds: rounding below 1e-6 relative on any CPU.
  bool used = false;
  average.with_average_in([&] {
    used = true;
    const auto index = torch::arange(6, torch::kFloat32).reshape({2, 3});
    const auto fc_weight = (index + 1.0) * (2.0 / 11.0 * 0.2) + (index + 5.0) * (9.0 / 11.0 * 0.2) + (index - 3.0) * 0.8;
    EXPECT_TRUE(torch::allclose(net->fc->weight.cpu(), fc_weight, 1e-6, 1e-6));
    EXPECT_NEAR(net->fc->bias[0].item<double>(), expected(1, 5, -3), 1e-6);
    EXPECT_NEAR(net->bn->weight[1].item<double>(), expected(2, 6, -2), 1e-6);
    EXPECT_NEAR(net->bn->bias[0].item<double>(), expected(0, 4, -4), 1e-6);
    EXPECT_NEAR(net->bn->running_mean[0].item<double>(), expected(2, 10, -6), 1e-6);
    EXPECT_NEAR(net->bn->running_var[1].item<double>(), expected(1, 25, 9), 1e-5);
    EXPECT_EQ(net->bn->num_batches_tracked.item<std::int64_t>(), 2);  // the network's own
    EXPECT_TRUE(torch::allclose(net->conv->weight.cpu(), torch::full({4, 2, 3, 3}, expected(3, 15, -9)), 1e-5, 1e-5));
    EXPECT_TRUE(net->conv->weight.is_contiguous(torch::MemoryFormat::ChannelsLast));
  });
  EXPECT_TRUE(used);
  // The network's own weights are back, exactly.
  Net reference;
  set_weights(reference, -3.0, 2);
  EXPECT_TRUE(torch::equal(net->fc->weight.cpu(), reference->fc->weight));
  EXPECT_TRUE(torch::equal(net->bn->running_var.cpu(), reference->bn->running_var));
  EXPECT_TRUE(torch::equal(net->conv->weight.cpu(), reference->conv->weight));

  // The checkpoint's view: one tensor per floating-point state_dict entry, the average.
  ASSERT_EQ(average.tensors().size(), 7u);
  EXPECT_EQ(average.tensors()[1].first, "fc.bias");
  EXPECT_NEAR(average.tensors()[1].second[1].item<double>(), expected(1, 5, -3), 1e-6);
}

TEST(WeightAverage, UpdateIsTheDecayedMeanOfTheWeightsSoFar) { expect_the_decayed_mean(torch::kCPU); }

TEST(WeightAverage, UpdateIsTheDecayedMeanOfTheWeightsSoFarOnCuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  expect_the_decayed_mean(torch::kCUDA);
}

TEST(WeightAverage, TheNetworksWeightsComeBackWhenTheUseThrows) {
  Net net;
  set_weights(net, 1.0, 0);
  WeightAverage average(*net, 0.5);
  set_weights(net, 4.0, 0);
  EXPECT_THROW(average.with_average_in([] { throw std::runtime_error("validation failed"); }), std::runtime_error);
  EXPECT_EQ(net->fc->bias[0].item<float>(), 4.0f);
  average.with_average_in([&] { EXPECT_EQ(net->fc->bias[0].item<float>(), 1.0f); });
}

}  // namespace
}  // namespace derm
