#include "derm/model/antialiased_resize.hpp"

#include <algorithm>

#include <gtest/gtest.h>
#include <torch/cuda.h>

#include "derm/model/autocast.hpp"
#include "derm/model/inception_v3.hpp"
#include "small_networks.hpp"

namespace derm {
namespace {

namespace F = torch::nn::functional;
using testing::max_relative_difference;

torch::Tensor interpolate(const torch::Tensor& x, int64_t out_h, int64_t out_w) {
  return F::interpolate(x, F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{out_h, out_w})
                               .mode(torch::kBilinear)
                               .align_corners(false)
                               .antialias(true));
}

torch::Tensor by_matrices(const torch::Tensor& x, int64_t out_h, int64_t out_w) {
  return resize_by_matrices(x, antialiased_resize_matrix(x.size(2), out_h), antialiased_resize_matrix(x.size(3), out_w));
}

TEST(AntialiasedResize, RowsAreNormalisedTrianglesAsWideAsTheScale) {
  const auto m = antialiased_resize_matrix(700, 299);
  ASSERT_EQ(m.sizes(), (std::vector<int64_t>{299, 700}));
  EXPECT_LT((m.sum(1) - 1).abs().max().item<double>(), 1e-6);
  EXPECT_GE(m.min().item<double>(), 0.0);
  // Taps of an inner row: 2 x 700/299 = 4.7 wide, so 4 or 5 non-zero weights.
  const auto taps = (m[150] > 0).sum().item<int64_t>();
  EXPECT_GE(taps, 4);
  EXPECT_LE(taps, 5);
}

TEST(AntialiasedResize, EqualsInterpolateForwardAndBackward) {
  torch::manual_seed(8);
  struct Case {
    int64_t h, w, out_h, out_w;
  };
  for (const Case c : {Case{700, 700, 299, 299}, Case{160, 120, 80, 75}, Case{50, 64, 80, 96}}) {
    const auto x = torch::randn({2, 3, c.h, c.w}, torch::requires_grad());
    const auto expected = interpolate(x, c.out_h, c.out_w);
    const auto actual = by_matrices(x, c.out_h, c.out_w);
    ASSERT_EQ(actual.sizes(), expected.sizes());
    EXPECT_LT(max_relative_difference(actual, expected), 1e-6) << c.h << "x" << c.w << " -> " << c.out_h;
    const auto weights = torch::randn_like(expected);
    const auto grad_expected = torch::autograd::grad({(expected * weights).sum()}, {x})[0];
    const auto grad_actual = torch::autograd::grad({(actual * weights).sum()}, {x})[0];
    EXPECT_LT(max_relative_difference(grad_actual, grad_expected), 1e-6) << c.h << "x" << c.w << " -> " << c.out_h;
  }
}

// Training autocasts to bf16; the image's resize must not be rounded with it.
TEST(AntialiasedResize, KeepsFloat32UnderBf16Autocast) {
  torch::manual_seed(10);
  const auto x = torch::rand({1, 3, 350, 350});
  const auto expected = interpolate(x, 150, 150);
  torch::Tensor actual;
  {
    Bf16Autocast cast(true, torch::kCPU);
    actual = by_matrices(x, 150, 150);
  }
  EXPECT_EQ(actual.scalar_type(), torch::kFloat32);
  EXPECT_LT(max_relative_difference(actual, expected), 1e-6);
}

TEST(AntialiasedResize, ChannelsLastMatricesAreInterpolateForwardAndBackward) {
  torch::manual_seed(5);
  const auto x = torch::randn({2, 5, 150, 130}).contiguous(torch::MemoryFormat::ChannelsLast);
  const auto rows = antialiased_resize_matrix(150, 70), cols = antialiased_resize_matrix(130, 60);
  const auto reference = x.clone().requires_grad_();
  const auto expected = interpolate(reference, 70, 60);
  const auto weights = torch::randn_like(expected);
  (expected * weights).sum().backward();
  for (const bool wide : {false, true}) {
    const auto leaf = x.clone().requires_grad_();
    const auto y = wide ? resize_by_matrices_channels_last_wide(leaf, rows, cols)
                        : resize_by_matrices_channels_last(leaf, rows, cols);
    EXPECT_TRUE(y.is_contiguous(torch::MemoryFormat::ChannelsLast)) << "wide " << wide;
    EXPECT_LT(max_relative_difference(y, expected), 1e-6) << "wide " << wide;
    (y * weights).sum().backward();
    EXPECT_LT(max_relative_difference(leaf.grad(), reference.grad()), 1e-6) << "wide " << wide;
  }
}

TEST(AntialiasedResize, OnTheCpuIsInterpolateItselfAndTimesNothing) {
  const AntialiasedResize resize(80);
  const auto x = torch::randn({2, 3, 190, 170}).requires_grad_();
  EXPECT_TRUE(torch::equal(resize(x), interpolate(x, 80, 80)));
  EXPECT_TRUE(resize.choices().empty());
}

// Needs a GPU: run on the device machine (bench/gpu/device_session.sh).
TEST(AntialiasedResize, TimesEachFormOncePerInputAndAgreesWithInterpolateOnCuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const AntialiasedResize resize(80);
  const auto x = torch::randn({2, 3, 190, 190}, torch::kCUDA);
  EXPECT_LT(max_relative_difference(resize(x), interpolate(x, 80, 80)), 1e-5);
  resize(x);
  ASSERT_EQ(resize.choices().size(), 1u);
  const auto first = resize.choices().front();
  ASSERT_EQ(first.timings.size(), 2u);  // not channels-last: interpolate and matrices
  for (const auto& [form, ms] : first.timings) {
    EXPECT_GT(ms, 0.0) << name_of(form);
    if (form != first.form) {
      const auto chosen = std::find_if(first.timings.begin(), first.timings.end(),
                                       [&](const auto& t) { return t.first == first.form; });
      EXPECT_LE(chosen->second, ms) << name_of(form);
    }
  }

  const auto leaf = x.clone().requires_grad_();
  resize(leaf).square().sum().backward();
  const auto reference = x.clone().requires_grad_();
  interpolate(reference, 80, 80).square().sum().backward();
  EXPECT_LT(max_relative_difference(leaf.grad(), reference.grad()), 1e-5);
  const auto channels_last = torch::randn({2, 16, 190, 190}, torch::kCUDA)
                                 .to(torch::kBFloat16)
                                 .contiguous(torch::MemoryFormat::ChannelsLast);
  const auto resized = resize(channels_last);
  EXPECT_LT(max_relative_difference(resized.to(torch::kFloat32), interpolate(channels_last, 80, 80).to(torch::kFloat32)),
            3e-2);  // bf16
  ASSERT_EQ(resize.choices().size(), 3u);
  EXPECT_NE(resize.choices()[1].input.find(" grad"), std::string::npos);
  EXPECT_NE(resize.choices()[2].input.find("channels_last"), std::string::npos);
  EXPECT_EQ(resize.choices()[2].timings.size(), 4u);
}

TEST(AntialiasedResize, MatricesFirstMadeUnderInferenceModeServeTrainingOnCuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const AntialiasedResize resize(80);
  const auto x = torch::randn({2, 3, 190, 190}, torch::kCUDA);
  {
    const c10::InferenceMode inference;
    resize(x);
  }
  const auto leaf = x.clone().requires_grad_();
  ASSERT_NO_THROW(resize(leaf).square().sum().backward());
  const auto reference = x.clone().requires_grad_();
  interpolate(reference, 80, 80).square().sum().backward();
  EXPECT_LT(max_relative_difference(leaf.grad(), reference.grad()), 1e-5);
}

// Needs a GPU: the stem's training and inference resizes are the resize.
TEST(AntialiasedResize, StemResizesAsInterpolateOnCuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const torch::Device cuda(torch::kCUDA);
  auto net = testing::small_network(9, 190, 80, cuda);
  const auto x = torch::randn({2, 3, 190, 190}, cuda);
  net->stem->train();
  EXPECT_LT(max_relative_difference(net->stem->resize(x), interpolate(x, 80, 80)), 1e-5);
  net->stem->eval();
  EXPECT_LT(max_relative_difference(net->stem->resize(x), interpolate(x, 80, 80)), 1e-5);
  EXPECT_FALSE(net->stem->resizer().choices().empty());
}

}  // namespace
}  // namespace derm
