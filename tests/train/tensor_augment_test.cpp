#include "derm/train/tensor_augment.hpp"

#include <gtest/gtest.h>
#include <torch/cuda.h>

#include "derm/core/error.hpp"
#include "derm/model/tensor_image.hpp"
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

// The image the same seed gives without cut-outs (they are drawn last), and the
// mask of the seed's rectangles.
std::pair<torch::Tensor, torch::Tensor> without_cutouts(AugmentParams params, const torch::Tensor& source,
                                                        std::uint64_t seed) {
  const Distortions d = Augmenter(params).draw(seed);
  params.cutout_probability = 0.0;
  const Augmenter plain(params);
  const auto image = TensorAugmenter(plain).apply(source, {seed})[0];
  auto mask = torch::zeros({1, params.output_size, params.output_size}, torch::kBool);
  for (const cv::Rect& r : d.cutouts) mask.slice(1, r.y, r.y + r.height).slice(2, r.x, r.x + r.width).fill_(true);
  return {image, mask};
}

TEST(TensorAugmenter, MeanCutoutsTakeTheWarpedImagesRoundedMeanColour) {
  AugmentParams params;
  params.output_size = 64;
  params.cutout_probability = 1.0;
  params.cutout_count = {1, 3};
  params.cutout_fill = CutoutFill::mean;
  const Augmenter augmenter(params);
  const std::vector<std::uint64_t> seeds{21, 22, 23};
  std::vector<torch::Tensor> sources;
  for (std::uint64_t s : seeds) sources.push_back(as_tensor(testing::synthetic_lesion(80, 80, s)));
  const auto batch = TensorAugmenter(augmenter).apply(torch::cat(sources), seeds);
  for (std::size_t i = 0; i < seeds.size(); ++i) {
    const auto [plain, mask] = without_cutouts(params, sources[i], seeds[i]);
    ASSERT_GT(mask.sum().item<int64_t>(), 0);
    const auto colour = plain.to(torch::kFloat32).mean({1, 2}, /*keepdim=*/true).round().to(torch::kUInt8);
    const auto expected = torch::where(mask, colour, plain);
    EXPECT_TRUE(torch::equal(batch[static_cast<int64_t>(i)], expected)) << "seed " << seeds[i];
  }
}

TEST(TensorAugmenter, NoiseCutoutsChangeTheRectanglesAlone) {
  AugmentParams params;
  params.output_size = 64;
  params.cutout_probability = 1.0;
  params.cutout_fill = CutoutFill::noise;
  const auto source = as_tensor(testing::synthetic_lesion(80, 80, 5));
  const auto out = TensorAugmenter(Augmenter(params)).apply(source, {31})[0];
  const auto [plain, mask] = without_cutouts(params, source, 31);
  const auto changed = out.ne(plain).logical_and(mask.expand_as(out));
  EXPECT_TRUE(torch::equal(out.masked_select(mask.logical_not()), plain.masked_select(mask.logical_not())));
  EXPECT_GT(changed.sum().item<int64_t>(), mask.sum().item<int64_t>());  // of 3 channels, most pixels differ
}

TEST(TensorAugmenter, NoiseCutoutsAreAFunctionOfTheSeedAlone) {
  // Not of torch's global generator, which dropout moves between training steps:
  // else a resumed run would fill its cut-outs with other noise.
  AugmentParams params;
  params.output_size = 64;
  params.cutout_probability = 1.0;
  params.cutout_fill = CutoutFill::noise;
  const Augmenter augmenter(params);
  const TensorAugmenter tensors(augmenter);
  std::vector<torch::Device> devices{torch::kCPU};
  if (torch::cuda::is_available()) devices.emplace_back(torch::kCUDA);
  for (const auto& device : devices) {
    const auto a = as_tensor(testing::synthetic_lesion(80, 80, 5)).to(device);
    const auto b = as_tensor(testing::synthetic_lesion(80, 80, 6)).to(device);
    torch::manual_seed(1);
    const auto first = tensors.apply(a, {31});
    torch::manual_seed(2);
    EXPECT_TRUE(torch::equal(tensors.apply(a, {31}), first)) << device;
    const auto batch = tensors.apply(torch::cat({b, a}), {32, 31});
    EXPECT_TRUE(torch::equal(batch[1], first[0])) << device;
    EXPECT_FALSE(torch::equal(batch[0], tensors.apply(b, {33})[0])) << device;
  }
}

TEST(TensorAugmenter, GivesTheCpuImagesUpToRoundingOnCuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  AugmentParams params;
  params.output_size = 96;
  params.cutout_probability = 1.0;
  const Augmenter augmenter(params);
  const TensorAugmenter augment(augmenter);
  const auto sources = torch::cat({as_tensor(testing::synthetic_lesion(120, 120, 7)),
                                   as_tensor(testing::synthetic_lesion(120, 120, 8))});
  const auto on_cpu = augment.apply(sources, {41, 42}).to(torch::kFloat32);
  const auto on_cuda = augment.apply(sources.to(torch::kCUDA), {41, 42}).cpu().to(torch::kFloat32);
  const auto difference = (on_cuda - on_cpu).abs();
  EXPECT_LE(difference.max().item<float>(), 3.0f);
  EXPECT_LT((difference > 0).to(torch::kFloat32).mean().item<float>(), 0.01f);
}

TEST(TensorAugmenter, RejectsWrongInput) {
  const Augmenter augmenter(AugmentParams{});
  EXPECT_THROW(TensorAugmenter(augmenter).apply(torch::zeros({1, 3, 8, 8}), {1}), Error);
  EXPECT_THROW(TensorAugmenter(augmenter).apply(torch::zeros({2, 3, 8, 8}, torch::kUInt8), {1}), Error);
}

}  // namespace
}  // namespace derm
