#include "derm/eval/roc_plot.hpp"

#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "derm/core/error.hpp"
#include "derm/eval/evaluation_outputs.hpp"
#include "evaluation_fixture.hpp"
#include "test_support.hpp"

namespace derm {
namespace {

std::vector<RocSeries> two_series() {
  const std::vector<double> scores{0.1, 0.4, 0.35, 0.8, 0.6, 0.2};
  const std::vector<bool> positive{false, false, true, true, true, false};
  const std::vector<double> inverted{0.9, 0.6, 0.65, 0.2, 0.4, 0.8};
  return {{"majority vote", roc_curve(scores, positive), auc_roc(scores, positive)},
          {"mean probability", roc_curve(inverted, positive), auc_roc(inverted, positive)}};
}

TEST(RocPlot, WritesAPngOfTheRequestedSizeWithContent) {
  testing::TempDir dir;
  write_roc_plot(dir / "roc.png", "ROC: melanoma vs rest", two_series(), 640);
  const cv::Mat image = cv::imread((dir / "roc.png").string(), cv::IMREAD_COLOR);
  ASSERT_FALSE(image.empty());
  EXPECT_EQ(image.cols, 640);
  EXPECT_EQ(image.rows, 640);
  EXPECT_EQ(image.at<cv::Vec3b>(2, 2), cv::Vec3b(255, 255, 255));  // white background

  cv::Mat gray;
  cv::cvtColor(image, gray, cv::COLOR_BGR2GRAY);
  const int dark = cv::countNonZero(gray < 100);
  EXPECT_GT(dark, 2000);  // axes, text, curves
  // Coloured (non-grey) pixels come from the curves and the legend swatches.
  int coloured = 0;
  for (int y = 0; y < image.rows; ++y) {
    for (int x = 0; x < image.cols; ++x) {
      const cv::Vec3b p = image.at<cv::Vec3b>(y, x);
      coloured += std::max({p[0], p[1], p[2]}) - std::min({p[0], p[1], p[2]}) > 80;
    }
  }
  EXPECT_GT(coloured, 1000);
}

TEST(RocPlot, RejectsBadArguments) {
  EXPECT_THROW(draw_roc_plot("t", {}, 800), Error);
  EXPECT_THROW(draw_roc_plot("t", two_series(), 100), Error);
}

TEST(EvaluationOutputs, WritesReportPredictionsAndOnePlotPerPositiveClass) {
  testing::TempDir dir;
  EvaluationOptions options;
  options.bootstrap.resamples = 20;
  const nlohmann::json report = write_evaluation_outputs(dir / "eval", testing::hand_worked_ensemble(),
                                                         testing::hand_worked_labels(), options);
  EXPECT_EQ(report["images"], 6);
  for (const char* name : {"report.json", "predictions.csv", "roc_melanoma.png", "roc_seborrheic_keratosis.png"}) {
    EXPECT_TRUE(std::filesystem::exists(dir / "eval" / name)) << name;
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "eval" / "roc_nevus.png"));
  const cv::Mat plot = cv::imread((dir / "eval" / "roc_melanoma.png").string());
  EXPECT_EQ(plot.cols, 800);
}

}  // namespace
}  // namespace derm
