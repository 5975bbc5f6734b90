#include "cpu_inference_plan.hpp"

#include <gtest/gtest.h>

#include "derm/model/inception_v3.hpp"
#include "small_networks.hpp"

namespace derm {
namespace {

using testing::max_relative_difference;

// Every parameter and statistic far from its initial value: BatchNorms worth
// folding, and a stem whose conv_out (zero at initialisation) counts.
void randomise(InceptionV3& net) {
  testing::randomise_batch_norms(net);
  torch::NoGradGuard no_grad;
  if (net->stem) {
    net->stem->conv_out->weight.normal_(0.0, 0.2);
    net->stem->conv_out->bias.normal_(0.0, 0.1);
  }
}

InceptionV3 network(std::uint64_t seed, int64_t input_size, int64_t backbone_size) {
  auto net = testing::small_network(seed, input_size, backbone_size);
  randomise(net);
  net->eval();
  return net;
}

// The same for other options; no auxiliary head.
InceptionV3 network(std::uint64_t seed, InceptionV3Options options) {
  torch::manual_seed(seed);
  options.aux_logits = false;
  InceptionV3 net(options);
  randomise(net);
  net->eval();
  return net;
}

// The network's LibTorch forward pass in float64, its weights left as they were.
torch::Tensor float64_forward(InceptionV3& net, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  net->to(torch::kFloat64);
  const auto logits = net->forward(x.to(torch::kFloat64));
  net->to(torch::kFloat32);
  return logits;
}

torch::Tensor planned_forward(InceptionV3& net, const torch::Tensor& x) {
  c10::InferenceMode inference_mode;
  return net->forward(x);
}

// float32 against float64: each of the ~100 layers in the chain rounds its sums
// (at most 2,048 x 9 products) by at most n x 2^-24 of their terms' magnitude
// whatever the kernels' order of summation; compounded over the layers and
// relative to the largest logit that stays below 1e-4, while a wrong fold,
// padding, pool or branch order moves the logits by far more (see
// APlanFromStaleWeightsWouldBeWrong).
constexpr double kFloat32Bound = 1e-4;

// x's planned forward pass: made by a plan for x's size, and within kFloat32Bound of float64_forward.
void expect_the_plan_is_the_forward_pass(InceptionV3& net, const torch::Tensor& x) {
  const auto planned = planned_forward(net, x);
  ASSERT_NE(net->cpu_plans(), nullptr);
  EXPECT_NE(net->cpu_plans()->find(x.size(2), x.size(3)), nullptr) << "the forward pass did not run the plan";
  EXPECT_LT(max_relative_difference(planned.to(torch::kFloat64), float64_forward(net, x)), kFloat32Bound);
}

// Built only with the plans (tests/CMakeLists.txt: DERM_WITH_ONEDNN).
class CpuInferencePlanTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(InceptionV3Impl::cpu_inference_plans_built()); }
};

TEST_F(CpuInferencePlanTest, IsTheForwardPassWithAStemImageByImage) {
  auto net = network(11, 150, 80);
  ASSERT_TRUE(net->stem);
  torch::manual_seed(1);
  const auto x = torch::randn({3, 3, 150, 150});
  const auto planned = planned_forward(net, x);
  ASSERT_NE(net->cpu_plans(), nullptr);
  EXPECT_NE(net->cpu_plans()->find(150, 150), nullptr) << "the forward pass did not run the plan";
  const auto expected = float64_forward(net, x);
  EXPECT_LT(max_relative_difference(planned.to(torch::kFloat64), expected), kFloat32Bound);
  // Each image its own row, in order.
  for (int64_t i = 0; i < 3; ++i) {
    const auto one = planned_forward(net, x.narrow(0, i, 1));
    EXPECT_TRUE(torch::equal(one, planned.narrow(0, i, 1))) << "image " << i;
  }
}

// Stems of 16 channels (the default) run derm's own conv_out loop, others oneDNN's.
TEST_F(CpuInferencePlanTest, IsTheForwardPassWithAnUpsamplingStemOfEightChannels) {
  InceptionV3Options options;
  options.num_classes = 3;
  options.input_size = 70;
  options.backbone_size = 90;
  options.stem_channels = 8;
  auto net = network(15, options);
  expect_the_plan_is_the_forward_pass(net, torch::randn({2, 3, 70, 70}));
}

TEST_F(CpuInferencePlanTest, IsTheForwardPassWithoutAStemAndWithTransformInput) {
  InceptionV3Options options;
  options.num_classes = 4;
  options.input_size = options.backbone_size = 96;
  options.transform_input = true;
  auto net = network(12, options);
  expect_the_plan_is_the_forward_pass(net, torch::randn({2, 3, 96, 96}));
}

TEST_F(CpuInferencePlanTest, APlanFromStaleWeightsWouldBeWrong) {
  auto net = network(13, 80, 80);
  const auto x = torch::randn({1, 3, 80, 80});
  const auto before = planned_forward(net, x);
  {
    torch::NoGradGuard no_grad;
    net->Mixed_6b->branch7x7dbl_3->bn->running_mean.add_(2.0);
    net->Conv2d_2a_3x3->conv->weight.mul_(1.5);
  }
  const auto after = planned_forward(net, x);
  const auto expected = float64_forward(net, x);
  // The change moves the logits far beyond the float32 bound, and the plan follows it.
  EXPECT_GT(max_relative_difference(before.to(torch::kFloat64), expected), 100 * kFloat32Bound);
  EXPECT_LT(max_relative_difference(after.to(torch::kFloat64), expected), kFloat32Bound);
}

TEST_F(CpuInferencePlanTest, PreparedAtLoadAndOnlyForInference) {
  auto net = network(14, 120, 80);
  net->prepare_cpu_inference(120, 120);
  ASSERT_NE(net->cpu_plans(), nullptr);
  const CpuInferencePlan* plan = net->cpu_plans()->find(120, 120);
  ASSERT_NE(plan, nullptr);
  EXPECT_GT(plan->arena_bytes(), 0);
  // oneDNN has JIT convolutions for every x86-64 ISA from SSE4.1 on: none may
  // fall back to its reference kernels (e.g. for an unsupported layout).
  int convolutions = 0;
  for (const auto& implementation : plan->implementations()) {
    if (implementation.find("conv") == std::string::npos) continue;
    ++convolutions;
    EXPECT_EQ(implementation.rfind("ref", 0), std::string::npos) << implementation;
  }
  // The backbone's BasicConv2ds; the stem's conv1 and conv2 for 32-row strips
  // and for the last 120 - 3 x 32 rows (its conv_out, 16 -> 3, is derm's own loop).
  EXPECT_EQ(convolutions, 94 + 2 + 2);

  // With gradients or in training mode LibTorch's operators run (and no plan is made).
  auto fresh = network(14, 80, 80);
  const auto x = torch::randn({2, 3, 80, 80});  // training-mode BatchNorm needs two values per channel
  fresh->forward(x);
  fresh->train();
  {
    torch::NoGradGuard no_grad;
    fresh->forward(x);
  }
  EXPECT_EQ(fresh->cpu_plans(), nullptr);
  // And switched off, neither.
  fresh->eval();
  fresh->cpu_inference_plans = false;
  planned_forward(fresh, x);
  EXPECT_EQ(fresh->cpu_plans(), nullptr);
}

}  // namespace
}  // namespace derm
