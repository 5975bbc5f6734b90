#include "derm/tensor_augment.hpp"

#include <gtest/gtest.h>

#include "derm/error.hpp"
#include "derm/tensor_image.hpp"
#include "test_support.hpp"

namespace derm {
namespace {

torch::Tensor as_tensor(const cv::Mat& rgb) { return to_chw_uint8(rgb).unsqueeze(0); }

TEST(TensorAugmenter, MatchesAugmenterUpToInterpolationRounding) {
  AugmentParams params;
  params.output_size = 80;
  params.cutout_probability = 0.0;
  const Augmenter augmenter(params);
  const TensorAugmenter tensors(augmenter);
  const cv::Mat source = testing::synthetic_lesion(100, 100, 11);
  for (std::uint64_t seed : {1u, 2u, 3u, 4u, 5u}) {
    const auto expected = as_tensor(augmenter.apply(source, seed)).to(torch::kFloat32);
    const auto actual = tensors.apply(as_tensor(source), {seed}).to(torch::kFloat32);
    ASSERT_EQ(actual.sizes(), expected.sizes());
    const auto difference = (actual - expected).abs();
    EXPECT_LT(difference.mean().item<float>(), 0.25f) << "seed " << seed;
    EXPECT_LT((difference > 4).to(torch::kFloat32).mean().item<float>(), 0.005f) << "seed " << seed;
  }
}

TEST(TensorAugmenter, BatchesAreTheSamplesAlone) {
  AugmentParams params;
  params.output_size = 64;
  const Augmenter augmenter(params);
  const TensorAugmenter tensors(augmenter);
  const auto a = as_tensor(testing::synthetic_lesion(90, 90, 1));
  const auto b = as_tensor(testing::synthetic_lesion(90, 90, 2));
  const auto batch = tensors.apply(torch::cat({a, b}), {7, 8});
  EXPECT_TRUE(torch::equal(batch[0], tensors.apply(a, {7})[0]));
  EXPECT_TRUE(torch::equal(batch[1], tensors.apply(b, {8})[0]));
  EXPECT_FALSE(torch::equal(tensors.apply(a, {7}), tensors.apply(a, {9})));
}

TEST(TensorAugmenter, CutoutsFillTheDrawnRectangles) {
  AugmentParams params;
  params.output_size = 64;
  params.cutout_probability = 1.0;
  params.cutout_fill = CutoutFill::black;
  params.brightness = {0.2, 0.2};  // no pure black elsewhere
  const Augmenter augmenter(params);
  const auto out = TensorAugmenter(augmenter).apply(as_tensor(testing::synthetic_lesion(80, 80, 3)), {21})[0];
  const Distortions d = augmenter.draw(21);
  ASSERT_FALSE(d.cutouts.empty());
  const auto& r = d.cutouts.front();
  EXPECT_EQ(out.slice(1, r.y, r.y + r.height).slice(2, r.x, r.x + r.width).max().item<int>(), 0);
  EXPECT_GT(out.to(torch::kFloat32).mean().item<float>(), 20.0f);
}

TEST(TensorAugmenter, RejectsWrongInput) {
  const Augmenter augmenter(AugmentParams{});
  EXPECT_THROW(TensorAugmenter(augmenter).apply(torch::zeros({1, 3, 8, 8}), {1}), Error);
  EXPECT_THROW(TensorAugmenter(augmenter).apply(torch::zeros({2, 3, 8, 8}, torch::kUInt8), {1}), Error);
}

}  // namespace
}  // namespace derm
