#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "derm/augment/augmenter.hpp"
#include "derm/augment/distortions.hpp"
#include "derm/core/error.hpp"
#include "test_support.hpp"

namespace derm {
namespace {

double max_abs_diff(const cv::Mat& a, const cv::Mat& b) { return cv::norm(a, b, cv::NORM_INF); }

// A black disc on white, for measuring shapes.
cv::Mat disc(int width, int height, cv::Point centre, int radius) {
  cv::Mat image(height, width, CV_8UC3, cv::Scalar::all(255));
  cv::circle(image, centre, radius, cv::Scalar::all(0), cv::FILLED);
  return image;
}

cv::Rect dark_box(const cv::Mat& rgb) {
  cv::Mat gray, mask;
  cv::cvtColor(rgb, gray, cv::COLOR_RGB2GRAY);
  cv::threshold(gray, mask, 128, 255, cv::THRESH_BINARY_INV);
  return cv::boundingRect(mask);
}

TEST(Mirror, TwiceIsTheIdentity) {
  const cv::Mat image = testing::synthetic_lesion(61, 40, 3);
  for (const auto& [h, v] : {std::pair{true, false}, {false, true}, {true, true}}) {
    const cv::Mat once = mirror(image, h, v);
    EXPECT_GT(max_abs_diff(once, image), 0) << h << v;
    EXPECT_EQ(max_abs_diff(mirror(once, h, v), image), 0) << h << v;
  }
}

TEST(Mirror, HorizontalSwapsLeftAndRight) {
  cv::Mat image(4, 5, CV_8UC3, cv::Scalar::all(0));
  image.at<cv::Vec3b>(1, 0) = cv::Vec3b(9, 8, 7);
  const cv::Mat flipped = mirror(image, true, false);
  EXPECT_EQ(flipped.at<cv::Vec3b>(1, 4), cv::Vec3b(9, 8, 7));
  EXPECT_EQ(mirror(image, false, true).at<cv::Vec3b>(2, 0), cv::Vec3b(9, 8, 7));
}

TEST(Rotate, KeepsTheSizeAndLeavesNoBlackCorners) {
  cv::Mat image = testing::synthetic_lesion(90, 60, 4);
  image = cv::max(image, cv::Scalar::all(40));  // no dark pixel anywhere
  for (const double angle : {17.0, 45.0, 133.0, 270.5}) {
    const cv::Mat rotated = rotate(image, angle);
    EXPECT_EQ(rotated.size(), image.size());
    EXPECT_EQ(rotated.type(), CV_8UC3);
    double min_value = 0;
    cv::minMaxLoc(rotated.reshape(1), &min_value);
    EXPECT_GE(min_value, 35) << "black fill at " << angle << " degrees";
  }
}

TEST(Rotate, ByZeroIsTheIdentity) {
  const cv::Mat image = testing::synthetic_lesion(64, 48, 5);
  EXPECT_LE(max_abs_diff(rotate(image, 0.0), image), 1);
  EXPECT_LE(max_abs_diff(rotate(image, 360.0), image), 1);
}

TEST(Rotate, By90MatchesCvRotateCounterClockwise) {
  const cv::Mat image = testing::synthetic_lesion(64, 64, 6);
  cv::Mat expected, wrong_way;
  cv::rotate(image, expected, cv::ROTATE_90_COUNTERCLOCKWISE);
  cv::rotate(image, wrong_way, cv::ROTATE_90_CLOCKWISE);
  const cv::Mat rotated = rotate(image, 90.0);
  EXPECT_LE(max_abs_diff(rotated, expected), 2);
  EXPECT_GT(max_abs_diff(rotated, wrong_way), 20);
}

TEST(Stretch, ChangesTheAspectAsAsked) {
  const cv::Mat image = disc(100, 100, {50, 50}, 20);
  const cv::Mat stretched = stretch(image, 2.0, 0.5);
  EXPECT_EQ(stretched.cols, 200);
  EXPECT_EQ(stretched.rows, 50);
  const cv::Rect box = dark_box(stretched);
  EXPECT_NEAR(static_cast<double>(box.width) / box.height, 4.0, 0.4);
  EXPECT_THROW(stretch(image, 0.0, 1.0), Error);
}

TEST(Lighting, NeutralIsTheIdentity) {
  const cv::Mat image = testing::synthetic_lesion(50, 40, 7);
  EXPECT_EQ(max_abs_diff(adjust_lighting(image, Lighting{}), image), 0);
}

TEST(Lighting, BrightnessMovesTheMeanTheRightWay) {
  const cv::Mat image(32, 32, CV_8UC3, cv::Scalar(100, 120, 140));
  Lighting brighter;
  brighter.brightness = 0.1;
  Lighting darker;
  darker.brightness = -0.1;
  const double mean = cv::mean(image)[1];
  EXPECT_NEAR(cv::mean(adjust_lighting(image, brighter))[1] - mean, 25.5, 1.0);
  EXPECT_NEAR(cv::mean(adjust_lighting(image, darker))[1] - mean, -25.5, 1.0);
}

TEST(Lighting, ContrastGammaAndGainActAsDocumented) {
  const cv::Mat image = testing::synthetic_lesion(64, 64, 8);
  cv::Scalar mean, spread;
  cv::meanStdDev(image, mean, spread);

  Lighting contrast;
  contrast.contrast = 1.5;
  cv::Scalar c_mean, c_spread;
  cv::meanStdDev(adjust_lighting(image, contrast), c_mean, c_spread);
  EXPECT_GT(c_spread[0], spread[0] * 1.3);

  Lighting gamma;
  gamma.gamma = 0.7;  // < 1 brightens
  EXPECT_GT(cv::mean(adjust_lighting(image, gamma))[0], mean[0] + 5);

  Lighting red;
  red.gain[0] = 1.2;
  const cv::Scalar red_mean = cv::mean(adjust_lighting(image, red));
  EXPECT_GT(red_mean[0], mean[0] + 10);
  EXPECT_NEAR(red_mean[1], mean[1], 0.5);
}

TEST(CutOut, FillsExactlyTheRectangles) {
  cv::Mat image(50, 60, CV_8UC3, cv::Scalar::all(255));
  cut_out(image, {cv::Rect(5, 6, 10, 7), cv::Rect(55, 45, 20, 20)}, CutoutFill::black, 1);
  cv::Mat gray;
  cv::cvtColor(image, gray, cv::COLOR_RGB2GRAY);
  EXPECT_EQ(cv::countNonZero(gray == 0), 10 * 7 + 5 * 5);  // the second is clipped
  EXPECT_EQ(image.at<cv::Vec3b>(6, 5), cv::Vec3b(0, 0, 0));
  EXPECT_EQ(image.at<cv::Vec3b>(5, 5), cv::Vec3b(255, 255, 255));
}

TEST(CutOut, MeanAndNoiseFills) {
  cv::Mat image(40, 40, CV_8UC3, cv::Scalar(10, 100, 200));
  cut_out(image, {cv::Rect(0, 0, 10, 10)}, CutoutFill::mean, 1);
  EXPECT_EQ(image.at<cv::Vec3b>(3, 3), cv::Vec3b(10, 100, 200));
  cv::Mat a = image.clone(), b = image.clone(), c = image.clone();
  cut_out(a, {cv::Rect(0, 0, 20, 20)}, CutoutFill::noise, 5);
  cut_out(b, {cv::Rect(0, 0, 20, 20)}, CutoutFill::noise, 5);
  cut_out(c, {cv::Rect(0, 0, 20, 20)}, CutoutFill::noise, 6);
  EXPECT_EQ(max_abs_diff(a, b), 0);
  EXPECT_GT(max_abs_diff(a, c), 0);
  cv::Scalar mean, spread;
  cv::meanStdDev(a(cv::Rect(0, 0, 20, 20)), mean, spread);
  EXPECT_GT(spread[0], 50);  // uniform 0..255 has a standard deviation of ~74
}

TEST(CutOut, AugmenterRectanglesStayWithinTheConfiguredBounds) {
  AugmentParams params;
  params.output_size = 200;
  params.cutout_probability = 1.0;
  params.cutout_count = {1, 3};
  params.cutout_area = {0.02, 0.08};
  params.cutout_aspect = {0.25, 4.0};
  const Augmenter augmenter(params);
  const double image_area = 200.0 * 200.0;
  int counts[4] = {0, 0, 0, 0};
  for (std::uint64_t seed = 0; seed < 300; ++seed) {
    const Distortions d = augmenter.draw(seed);
    ASSERT_GE(d.cutouts.size(), 1u);
    ASSERT_LE(d.cutouts.size(), 3u);
    ++counts[d.cutouts.size()];
    for (const cv::Rect& r : d.cutouts) {
      EXPECT_EQ(r & cv::Rect(0, 0, 200, 200), r) << "outside the image";
      // Rounding each side to whole pixels moves the area by at most ~(w + h) / 2 + 1.
      const double slack = (r.width + r.height) / 2.0 + 1.0;
      EXPECT_GE(r.area() + slack, 0.02 * image_area);
      EXPECT_LE(r.area() - slack, 0.08 * image_area);
    }
  }
  EXPECT_GT(counts[1], 50);
  EXPECT_GT(counts[3], 50);

  params.cutout_probability = 0.0;
  EXPECT_TRUE(Augmenter(params).draw(1).cutouts.empty());
}

}  // namespace
}  // namespace derm
