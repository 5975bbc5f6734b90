#include "derm/model/antialiased_resize.hpp"

#include <algorithm>
#include <cmath>
#include <string>

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

// The most non-zero weights in a row of m (dim 1) or in a column (dim 0).
int64_t taps(const torch::Tensor& m, int64_t dim) { return (m != 0).sum(dim).max().item<int64_t>(); }

// rows @ x @ cols^T per image and channel, in float64.
torch::Tensor resize64(const torch::Tensor& x, const torch::Tensor& rows, const torch::Tensor& cols) {
  return torch::matmul(torch::matmul(rows.to(torch::kFloat64), x.to(torch::kFloat64)), cols.to(torch::kFloat64).t());
}

// `actual` (float32) is rows @ x @ cols^T but for rounding: each element is two
// passes of sums of at most `terms` non-zero products, which in float32 round
// it by at most (terms + 2) * 2^-24 * (|rows| @ |x| @ |cols|^T) whatever the
// order of the sums (Higham, Accuracy and Stability, 3.1); two more for the
// weights' own rounding. Checked element by element, in float64.
void expect_within_rounding(const torch::Tensor& actual, const torch::Tensor& x, const torch::Tensor& rows,
                            const torch::Tensor& cols, int64_t terms, const std::string& what) {
  const auto reference = resize64(x, rows, cols);
  const auto bound = (terms + 4) * std::ldexp(1.0, -24) * resize64(x.abs(), rows.abs(), cols.abs());
  ASSERT_EQ(actual.sizes(), reference.sizes()) << what;
  const auto excess = ((actual.to(torch::kFloat64) - reference).abs() - bound).max().item<double>();
  EXPECT_LE(excess, 0.0) << what << ": beyond float32 rounding";
}

// The forward pass of a resize of x (N x C x H x W) to out_h x out_w.
void expect_resize(const torch::Tensor& y, const torch::Tensor& x, int64_t out_h, int64_t out_w,
                   const std::string& what) {
  const auto rows = antialiased_resize_matrix(x.size(2), out_h), cols = antialiased_resize_matrix(x.size(3), out_w);
  expect_within_rounding(y, x.detach(), rows, cols, taps(rows, 1) + taps(cols, 1), what);
}

// Its backward pass: the gradient of sum(y * weights) with respect to x is rows^T @ weights @ cols.
void expect_resize_gradient(const torch::Tensor& grad, const torch::Tensor& weights, int64_t in_h, int64_t in_w,
                            const std::string& what) {
  const auto rows = antialiased_resize_matrix(in_h, weights.size(2)), cols = antialiased_resize_matrix(in_w, weights.size(3));
  expect_within_rounding(grad, weights, rows.t(), cols.t(), taps(rows, 0) + taps(cols, 0), what);
}

TEST(AntialiasedResize, RowsAreNormalisedTrianglesAsWideAsTheScale) {
  const auto m = antialiased_resize_matrix(700, 299);
  ASSERT_EQ(m.sizes(), (std::vector<int64_t>{299, 700}));
  EXPECT_LT((m.sum(1) - 1).abs().max().item<double>(), 1e-6);  // float32 sums of at most 5 weights: < 4e-7
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
    const std::string what = std::to_string(c.h) + "x" + std::to_string(c.w) + " -> " + std::to_string(c.out_h);
    const auto x = torch::randn({2, 3, c.h, c.w}, torch::requires_grad());
    const auto expected = interpolate(x, c.out_h, c.out_w);
    const auto actual = by_matrices(x, c.out_h, c.out_w);
    expect_resize(expected, x, c.out_h, c.out_w, what + " interpolate");
    expect_resize(actual, x, c.out_h, c.out_w, what + " matrices");
    const auto weights = torch::randn_like(expected);
    const auto grad_expected = torch::autograd::grad({(expected * weights).sum()}, {x})[0];
    const auto grad_actual = torch::autograd::grad({(actual * weights).sum()}, {x})[0];
    expect_resize_gradient(grad_expected, weights, c.h, c.w, what + " interpolate's gradient");
    expect_resize_gradient(grad_actual, weights, c.h, c.w, what + " matrices' gradient");
  }
}

TEST(AntialiasedResize, ByTapsEqualsTheMatricesOnChannelsLastInputs) {
  torch::manual_seed(12);
  struct Case {
    int64_t channels, h, w, out_h, out_w;
  };
  for (const Case c : {Case{16, 350, 330, 150, 149}, Case{3, 700, 700, 299, 299}, Case{5, 160, 120, 80, 75},
                       Case{4, 50, 64, 80, 96}}) {
    const std::string what = std::to_string(c.channels) + "x" + std::to_string(c.h) + "x" + std::to_string(c.w) +
                             " -> " + std::to_string(c.out_h) + "x" + std::to_string(c.out_w);
    const auto x = torch::randn({2, c.channels, c.h, c.w});
    const auto rows = antialiased_resize_matrix(c.h, c.out_h), cols = antialiased_resize_matrix(c.w, c.out_w);
    const ResizeTaps heights = ResizeTaps::of(rows), widths = ResizeTaps::of(cols);
    const auto y = resize_channels_last_by_taps(x.contiguous(torch::MemoryFormat::ChannelsLast), heights, widths);
    EXPECT_TRUE(y.is_contiguous(torch::MemoryFormat::ChannelsLast)) << what;
    expect_resize(y, x, c.out_h, c.out_w, what);
    // A plain (N x C x H x W) input gives the same numbers.
    EXPECT_TRUE(torch::equal(resize_channels_last_by_taps(x, heights, widths), y)) << what;
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
  expect_resize(actual, x, 150, 150, "under autocast");  // bf16 would round by 2^-9, far beyond
  expect_resize(expected, x, 150, 150, "interpolate");
}

TEST(AntialiasedResize, ChannelsLastMatricesAreInterpolateForwardAndBackward) {
  torch::manual_seed(5);
  const auto x = torch::randn({2, 5, 150, 130}).contiguous(torch::MemoryFormat::ChannelsLast);
  const auto rows = antialiased_resize_matrix(150, 70), cols = antialiased_resize_matrix(130, 60);
  const auto reference = x.clone().requires_grad_();
  const auto expected = interpolate(reference, 70, 60);
  const auto weights = torch::randn_like(expected);
  (expected * weights).sum().backward();
  expect_resize(expected, x, 70, 60, "interpolate");
  expect_resize_gradient(reference.grad(), weights, 150, 130, "interpolate's gradient");
  for (const bool wide : {false, true}) {
    const std::string what = wide ? "wide" : "per row";
    const auto leaf = x.clone().requires_grad_();
    const auto y = wide ? resize_by_matrices_channels_last_wide(leaf, rows, cols)
                        : resize_by_matrices_channels_last(leaf, rows, cols);
    EXPECT_TRUE(y.is_contiguous(torch::MemoryFormat::ChannelsLast)) << what;
    expect_resize(y, x, 70, 60, what);
    (y * weights).sum().backward();
    expect_resize_gradient(leaf.grad(), weights, 150, 130, what + " gradient");
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
