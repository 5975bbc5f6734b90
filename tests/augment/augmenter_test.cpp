#include <thread>

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "derm/augment/augmenter.hpp"
#include "derm/augment/contact_sheet.hpp"
#include "derm/augment/sample_seed.hpp"
#include "derm/core/error.hpp"
#include "test_support.hpp"

namespace derm {
namespace {

double max_abs_diff(const cv::Mat& a, const cv::Mat& b) { return cv::norm(a, b, cv::NORM_INF); }

AugmentParams small_params(int size = 96) {
  AugmentParams params;
  params.output_size = size;
  return params;
}

AugmentParams neutral_params(int size) {
  AugmentParams p = small_params(size);
  p.rotation_deg = {0, 0};
  p.hflip_probability = p.vflip_probability = p.cutout_probability = 0;
  p.scale_x = p.scale_y = {1, 1};
  p.brightness = {0, 0};
  p.contrast = p.gamma = p.channel_gain = {1, 1};
  return p;
}

// The option that validation refuses, with its message; empty when valid.
std::pair<std::string, std::string> refusal_of(const AugmentParams& params) {
  try {
    params.validate();
  } catch (const OptionError& e) {
    return {e.option(), e.what()};
  }
  return {};
}

TEST(Augmenter, OutputsSquareRgbOfTheOutputSizeForEveryPolicy) {
  const cv::Mat source = testing::synthetic_lesion(150, 100, 1);
  for (const ResizePolicy policy : {ResizePolicy::squash, ResizePolicy::center_crop, ResizePolicy::pad}) {
    AugmentParams params = small_params(80);
    params.resize = policy;
    const cv::Mat out = Augmenter(params).apply(source, 42);
    EXPECT_EQ(out.size(), cv::Size(80, 80)) << name_of(policy);
    EXPECT_EQ(out.type(), CV_8UC3);
  }
}

TEST(Augmenter, SameSeedSameOutputDifferentSeedDifferentOutput) {
  const cv::Mat source = testing::synthetic_lesion(120, 120, 2);
  const Augmenter augmenter(small_params());
  const cv::Mat a = augmenter.apply(source, 7);
  const cv::Mat b = augmenter.apply(source, 7);
  const cv::Mat c = augmenter.apply(source, 8);
  EXPECT_EQ(max_abs_diff(a, b), 0);
  EXPECT_GT(max_abs_diff(a, c), 10);
  // A second Augmenter with the same parameters gives the same pixels.
  EXPECT_EQ(max_abs_diff(Augmenter(small_params()).apply(source, 7), a), 0);
}

TEST(Augmenter, IsThreadSafe) {
  const cv::Mat source = testing::synthetic_lesion(200, 150, 3);
  const Augmenter augmenter(small_params());
  std::vector<cv::Mat> expected;
  for (std::uint64_t seed = 0; seed < 8; ++seed) expected.push_back(augmenter.apply(source, seed));
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 5; ++round) {
        for (std::uint64_t seed = 0; seed < 8; ++seed) {
          if (max_abs_diff(augmenter.apply(source, seed), expected[seed]) != 0) ++mismatches[t];
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (const int m : mismatches) EXPECT_EQ(m, 0);
}

TEST(Augmenter, NeutralParametersOnlyResize) {
  const cv::Mat source = testing::synthetic_lesion(60, 40, 4);
  const cv::Mat out = Augmenter(neutral_params(120)).apply(source, 9);
  cv::Mat resized;
  cv::resize(source, resized, cv::Size(120, 120), 0, 0, cv::INTER_LINEAR);
  cv::Mat diff;
  cv::absdiff(out, resized, diff);
  EXPECT_LT(cv::mean(diff)[0], 1.0);  // same geometry: no shift, no flip
  EXPECT_LE(max_abs_diff(out, resized), 12);
}

TEST(Augmenter, GeometryMatchesOneReflectedWarpAffine) {
  // Rotation 45, compression 0.3 of a 5x enlargement: the output reaches far
  // beyond the 40x40 source, which must be filled by reflection.
  const cv::Mat source = testing::synthetic_lesion(40, 40, 10);
  AugmentParams params = neutral_params(200);
  params.rotation_deg = {45, 45};
  params.scale_x = params.scale_y = {0.3, 0.3};
  const cv::Mat out = Augmenter(params).apply(source, 1);
  const double k = 5.0 * 0.3, c = std::cos(CV_PI / 4), s = std::sin(CV_PI / 4);
  const cv::Matx22d linear(k * c, k * s, -k * s, k * c);
  const cv::Vec2d shift = cv::Vec2d(99.5, 99.5) - linear * cv::Vec2d(19.5, 19.5);
  const cv::Matx23d matrix(linear(0, 0), linear(0, 1), shift[0], linear(1, 0), linear(1, 1), shift[1]);
  cv::Mat expected;
  cv::warpAffine(source, expected, matrix, cv::Size(200, 200), cv::INTER_LINEAR, cv::BORDER_REFLECT_101);
  EXPECT_LE(max_abs_diff(out, expected), 2);

  // Same for a plain rotation at the source's own size: equals rotate().
  AugmentParams same_size = neutral_params(64);
  same_size.rotation_deg = {30, 30};
  const cv::Mat lesion = testing::synthetic_lesion(64, 64, 11);
  EXPECT_LE(max_abs_diff(Augmenter(same_size).apply(lesion, 1), rotate(lesion, 30)), 2);
}

TEST(Augmenter, PreparedSourceGivesTheSameOutput) {
  const cv::Mat large = testing::synthetic_lesion(1000, 750, 5);
  const Augmenter augmenter(small_params(100));
  const cv::Mat prepared = augmenter.prepare(large);
  EXPECT_LT(prepared.cols, large.cols);
  EXPECT_EQ(augmenter.prepare(prepared).data, prepared.data) << "prepare is idempotent";
  EXPECT_EQ(max_abs_diff(augmenter.apply(prepared, 3), augmenter.apply(large, 3)), 0);
  const cv::Mat small = testing::synthetic_lesion(64, 64, 6);
  EXPECT_EQ(augmenter.prepare(small).data, small.data) << "small sources are not copied";
}

TEST(Augmenter, DrawsWithinTheRangesAndFlipsAtTheRate) {
  AugmentParams params = small_params();
  params.rotation_deg = {10, 20};
  params.scale_x = {0.9, 1.1};
  params.hflip_probability = 0.25;
  params.vflip_probability = 1.0;
  const Augmenter augmenter(params);
  int hflips = 0;
  for (std::uint64_t seed = 0; seed < 2000; ++seed) {
    const Distortions d = augmenter.draw(seed);
    ASSERT_GE(d.rotation_deg, 10);
    ASSERT_LE(d.rotation_deg, 20);
    ASSERT_GE(d.scale_x, 0.9 - 1e-12);
    ASSERT_LE(d.scale_x, 1.1 + 1e-12);
    ASSERT_TRUE(d.vflip);
    hflips += d.hflip;
  }
  EXPECT_NEAR(hflips / 2000.0, 0.25, 0.04);
}

TEST(Augmenter, DrawnValuesArePinnedAcrossPlatforms) {
  // derm's own RNG: these values must not change with the compiler or library.
  EXPECT_EQ(derive_seed(1, 0, 0), derive_seed(1, 0, 0));
  EXPECT_NE(derive_seed(1, 0, 0), derive_seed(2, 0, 0));
  EXPECT_NE(derive_seed(1, 0, 0), derive_seed(1, 1, 0));
  EXPECT_NE(derive_seed(1, 0, 0), derive_seed(1, 0, 1));
  EXPECT_NE(derive_seed(1, 1, 0), derive_seed(1, 0, 1));
  EXPECT_EQ(derive_seed(1, 2, 3), 0x16539274c45bbd0eULL) << std::hex << derive_seed(1, 2, 3);
  const Distortions d = Augmenter(AugmentParams{}).draw(12345);
  EXPECT_NEAR(d.rotation_deg, 43.03532988328157, 1e-9);
  EXPECT_NEAR(d.scale_x, 0.86541644777022697, 1e-12);
  EXPECT_EQ(d.cutouts.size(), 2u);
}

TEST(AugmentParams, JsonRoundTrip) {
  AugmentParams params;
  params.output_size = 299;
  params.resize = ResizePolicy::center_crop;
  params.rotation_deg = {-30, 30};
  params.cutout_fill = CutoutFill::noise;
  params.channel_gain = {0.95, 1.05};
  const AugmentParams back = augment_params_from_json(to_json(params));
  EXPECT_EQ(to_json(back), to_json(params));
  EXPECT_EQ(back.output_size, 299);
  EXPECT_EQ(back.rotation_deg.min, -30);
  EXPECT_EQ(back.cutout_fill, CutoutFill::noise);
  EXPECT_EQ(to_json(augment_params_from_json(nlohmann::json::object())), to_json(AugmentParams{}));
}

TEST(AugmentParams, BadJsonIsAClearError) {
  EXPECT_THROW(augment_params_from_json({{"rotaton_deg", {0, 1}}}), Error);
  EXPECT_THROW(augment_params_from_json({{"rotation_deg", 5}}), Error);
  EXPECT_THROW(augment_params_from_json({{"gamma", {2, 1}}}), Error);
  EXPECT_THROW(augment_params_from_json({{"cutout_fill", "plaid"}}), Error);
}

TEST(AugmentParams, ValidationNamesTheOption) {
  const auto expect_refused = [](const AugmentParams& params, const std::string& option, const std::string& problem) {
    const auto [refused, message] = refusal_of(params);
    EXPECT_EQ(refused, option) << message;
    EXPECT_EQ(message, option + ": " + problem);
  };
  AugmentParams p;
  p.rotation_deg = {10, 5};
  expect_refused(p, "rotation_deg", "min greater than max in 10,5");
  p = AugmentParams{};
  p.output_size = 16;
  expect_refused(p, "output_size", "must be in [32, 8192], got 16");
  p = AugmentParams{};
  p.hflip_probability = 1.5;
  expect_refused(p, "hflip_probability", "must be a probability in [0, 1], got 1.5");
  p = AugmentParams{};
  p.cutout_area = {0.0, 0.1};
  expect_refused(p, "cutout_area", "values must be in (0, 1], got 0,0.1");
  p = AugmentParams{};
  p.cutout_count = {1.5, 2};
  expect_refused(p, "cutout_count", "must be whole numbers, got 1.5,2");
  p = AugmentParams{};
  p.scale_y = {0.0, 1.0};
  expect_refused(p, "scale_y", "values must be in (0, 10], got 0,1");
  EXPECT_EQ(refusal_of(AugmentParams{}).first, "");
  EXPECT_THROW(Augmenter{p}, Error);
}

TEST(ContactSheet, HasTheGridSizeAndTheOriginalTopLeft) {
  const cv::Mat source = testing::synthetic_lesion(100, 100, 9);
  const cv::Mat sheet = augment_contact_sheet(source, AugmentParams{}, 3, 2, 64, 1);
  EXPECT_EQ(sheet.cols, 3 * 64 + 4 * 4);
  EXPECT_EQ(sheet.rows, 2 * 64 + 3 * 4);
  cv::Mat original;
  cv::resize(source, original, cv::Size(64, 64), 0, 0, cv::INTER_AREA);
  // The top of the first tile (above its label) is the resized original.
  cv::Mat diff;
  cv::absdiff(sheet(cv::Rect(4, 4, 64, 30)), original(cv::Rect(0, 0, 64, 30)), diff);
  EXPECT_LT(cv::mean(diff)[0], 1.5);
  cv::absdiff(sheet(cv::Rect(4 + 68, 4, 64, 30)), original(cv::Rect(0, 0, 64, 30)), diff);
  EXPECT_GT(cv::mean(diff)[0], 3.0) << "the second tile is distorted";
  EXPECT_THROW(augment_contact_sheet(source, AugmentParams{}, 0, 2, 64, 1), Error);
}

}  // namespace
}  // namespace derm
