#include "derm/infer/classify.hpp"

#include <fstream>

#include <gtest/gtest.h>

#include "derm/core/image.hpp"
#include "derm/model/model_files.hpp"
#include "test_support.hpp"

namespace derm {
namespace {

namespace fs = std::filesystem;

// Batch k + 1 is decoded while batch k is classified: the verdicts must still
// come in the images' order, each image's own, with a broken file's error on
// that file alone.
TEST(ClassifyImages, BatchesDecodedAheadKeepTheOrderAndEachImagesOwnError) {
  testing::TempDir dir;
  UntrainedModelOptions model;
  model.input_size = model.backbone_size = 75;
  const fs::path model_path = dir / "model.safetensors";
  create_untrained_model(model_path, model);
  const fs::path folder = dir / "images";
  fs::create_directories(folder);
  constexpr int kImages = 7, kBroken = 3;
  for (int k = 0; k < kImages; ++k) {
    const fs::path path = folder / ("image" + std::to_string(k) + ".png");
    if (k == kBroken) {
      std::ofstream(path) << "not an image";
    } else {
      testing::write_rgb(path, testing::synthetic_lesion(80 + 10 * k, 90, static_cast<std::uint64_t>(k)));
    }
  }

  ClassifyRequest request;
  request.classifier.models = {model_path};
  request.classifier.device = "cpu";
  request.images = {folder};
  request.batch_size = 2;
  request.quiet = true;
  const ClassifyResult result = classify_images(request);

  ASSERT_EQ(result.images.size(), static_cast<std::size_t>(kImages));
  EXPECT_EQ(result.failed(), 1);
  ASSERT_EQ(result.predictions.images(), static_cast<std::size_t>(kImages - 1));
  Classifier alone(request.classifier);
  std::size_t row = 0;
  for (int k = 0; k < kImages; ++k) {
    const fs::path expected = folder / ("image" + std::to_string(k) + ".png");
    EXPECT_EQ(result.images[static_cast<std::size_t>(k)], expected);
    const std::string& error = result.errors[static_cast<std::size_t>(k)];
    if (k == kBroken) {
      EXPECT_NE(error.find("image3.png"), std::string::npos) << error;
      continue;
    }
    EXPECT_TRUE(error.empty()) << error;
    EXPECT_EQ(result.predictions.ids[row], expected.string());
    const Predictions own = alone.classify({read_rgb_image(expected)}, {expected.string()});
    for (std::size_t c = 0; c < 3; ++c) {
      // One image alone or in a batch of two: other kernels, float rounding only.
      EXPECT_NEAR(result.predictions.member_probabilities[0][row][c], own.member_probabilities[0][0][c], 1e-5)
          << expected;
    }
    ++row;
  }
}

}  // namespace
}  // namespace derm
