#include "derm/infer/classifier.hpp"

#include <gtest/gtest.h>
#include <opencv2/core.hpp>

#include "derm/core/error.hpp"
#include "derm/model/model_files.hpp"
#include "test_support.hpp"

namespace derm {
namespace {

namespace fs = std::filesystem;

// Three untrained members: two read 75 px squashed images, one 75 px centre crops.
class EnsembleOfThree : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int k = 0; k < 3; ++k) {
      UntrainedModelOptions o;
      o.input_size = o.backbone_size = 75;
      o.resize_policy = k == 2 ? ResizePolicy::center_crop : ResizePolicy::squash;
      o.seed = static_cast<std::uint64_t>(k + 1);
      members_.push_back(dir_ / ("m" + std::to_string(k) + ".safetensors"));
      create_untrained_model(members_.back(), o);
    }
    images_ = {testing::synthetic_lesion(120, 90, 1), testing::synthetic_lesion(90, 140, 2)};
  }

  static ClassifierOptions options(const std::vector<fs::path>& models) {
    ClassifierOptions o;
    o.models = models;
    o.device = "cpu";
    return o;
  }

  testing::TempDir dir_;
  std::vector<fs::path> members_;
  std::vector<cv::Mat> images_;
};

TEST_F(EnsembleOfThree, PreparesEachImageOncePerDistinctPreprocessing) {
  Classifier ensemble(options(members_));
  ASSERT_EQ(ensemble.preprocessings().size(), 2u);
  EXPECT_EQ(ensemble.preprocessings()[0].resize_policy, ResizePolicy::squash);
  EXPECT_EQ(ensemble.preprocessings()[1].resize_policy, ResizePolicy::center_crop);
  EXPECT_TRUE(ensemble.untrained());
}

TEST_F(EnsembleOfThree, GivesEveryMembersOwnOutputsInOneShape) {
  Classifier ensemble(options(members_));
  const Predictions all = ensemble.classify(images_, {"a", "b"});
  EXPECT_EQ(all.ids, (std::vector<std::string>{"a", "b"}));
  ASSERT_EQ(all.members(), 3u);
  ASSERT_EQ(all.member_logits.size(), 3u);
  for (std::size_t m = 0; m < members_.size(); ++m) {
    Classifier alone(options({members_[m]}));
    const Predictions own = alone.classify(images_, {"a", "b"});
    // The same preparation and the same network: the same bits.
    EXPECT_EQ(all.member_probabilities[m], own.member_probabilities[0]) << "member " << m;
    EXPECT_EQ(all.member_logits[m], own.member_logits[0]) << "member " << m;
    for (const auto& row : all.member_probabilities[m]) {
      ASSERT_EQ(row.size(), 3u);
      EXPECT_NEAR(row[0] + row[1] + row[2], 1.0, 1e-6);
    }
  }
}

TEST_F(EnsembleOfThree, RefusesImpossibleViewsAndMismatchedIds) {
  Classifier ensemble(options(members_));
  try {
    ensemble.classify(images_, {"a", "b"}, 3);
    FAIL() << "3 views were accepted";
  } catch (const OptionError& e) {
    EXPECT_EQ(e.option(), "tta_views");
  }
  EXPECT_THROW(ensemble.classify(images_, {"a"}), Error);
  EXPECT_EQ(ensemble.classify({}, {}).images(), 0u);
}

TEST_F(EnsembleOfThree, HeatmapIsTheMeanOfTheMembersNormalisedMapsOverTheImage) {
  Classifier ensemble(options(members_));
  const cv::Mat& image = images_[0];
  const Heatmap heatmap = ensemble.heatmap(image, 2, "Mixed_6e");
  EXPECT_EQ(heatmap.class_name, "nevus");
  EXPECT_EQ(heatmap.layer, "Mixed_6e");
  ASSERT_EQ(heatmap.member_maps.size(), 3u);
  ASSERT_EQ(heatmap.map.size(), image.size());
  ASSERT_EQ(heatmap.map.type(), CV_32F);
  double low = 0, high = 0;
  cv::minMaxLoc(heatmap.map, &low, &high);
  EXPECT_GE(low, 0.0);
  EXPECT_LE(high, 1.0 + 1e-6);
  cv::Mat sum = cv::Mat::zeros(image.size(), CV_32F);
  for (std::size_t m = 0; m < members_.size(); ++m) {
    const cv::Mat& map = heatmap.member_maps[m];
    EXPECT_EQ(map.size(), cv::Size(3, 3)) << "Mixed_6e of a 75 px input";
    double member_high = 0;
    cv::minMaxLoc(map, nullptr, &member_high);
    EXPECT_TRUE(member_high == 1.0 || member_high == 0.0) << "member " << m << ": " << member_high;
    // A member alone gives its own map.
    Classifier alone(options({members_[m]}));
    const Heatmap own = alone.heatmap(image, 2, "Mixed_6e");
    EXPECT_EQ(cv::norm(own.member_maps[0], map, cv::NORM_INF), 0.0) << "member " << m;
    sum += own.map;
  }
  EXPECT_LT(cv::norm(sum / 3.0, heatmap.map, cv::NORM_INF), 1e-6);
  const cv::Mat overlay = heatmap_overlay(image, heatmap.map);
  EXPECT_EQ(overlay.size(), image.size());
  EXPECT_EQ(overlay.type(), CV_8UC3);
  EXPECT_GT(cv::norm(overlay, image, cv::NORM_L1), 0.0);
}

TEST_F(EnsembleOfThree, HeatmapRefusesALayerTheNetworksLack) {
  Classifier ensemble(options(members_));
  try {
    ensemble.heatmap(images_[0], 0, "Mixed_9z");
    FAIL() << "an unknown layer was accepted";
  } catch (const OptionError& e) {
    EXPECT_EQ(e.option(), "heatmap_layer");
  }
  EXPECT_THROW(ensemble.heatmap(images_[0], 3, "Mixed_7c"), Error);
}

}  // namespace
}  // namespace derm
