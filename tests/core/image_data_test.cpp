// derm's JPEG decoding on the real ISIC images (skipped when ../shared/data is
// absent): the pixels OpenCV gives, full-resolution camera files included.
#include <gtest/gtest.h>

#include "derm/core/image.hpp"
#include "test_support.hpp"

namespace derm {
namespace {

namespace fs = std::filesystem;

TEST(ImageData, RealJpegsDecodeAsOpenCvDecodesThem) {
  DERM_REQUIRE_DATA(data);
  // Every full-resolution image, every 10th of the two 224/256 px sets.
  const std::vector<std::pair<fs::path, std::size_t>> folders{
      {data / "isic-fullres-sample" / "images", 1},
      {data / "isic2017" / "images", 10},
      {data / "ham10000-224" / "images", 10}};
  int compared = 0;
  for (const auto& [folder, stride] : folders) {
    const std::vector<fs::path> images = image_files_in(folder);
    ASSERT_FALSE(images.empty()) << folder;
    for (std::size_t i = 0; i < images.size(); i += stride) {
      const cv::Mat ours = read_rgb_image(images[i]);
      EXPECT_TRUE(testing::identical_images(ours, testing::read_with_opencv_rgb(images[i]))) << images[i];
      ++compared;
    }
  }
  EXPECT_GT(compared, 300);
}

}  // namespace
}  // namespace derm
