// run_prep when the system runs out of memory while it checks an image.
#include <fstream>
#include <new>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>

#include "derm/data/prep.hpp"
#include "resource_failures.hpp"
#include "test_support.hpp"

namespace derm {
namespace {

namespace fs = std::filesystem;

TEST(RunPrepOutOfMemory, EndsTheRunInsteadOfExcludingTheImage) {
  const testing::TempDir dir;
  fs::create_directories(dir / "images");
  for (int i = 1; i <= 3; ++i) {
    const std::string name = "ISIC_small" + std::to_string(i) + ".png";
    testing::write_rgb(dir / "images" / name, testing::synthetic_lesion(64, 64, static_cast<std::uint64_t>(i)));
  }
  cv::Mat noise(300, 300, CV_8UC3);
  cv::randu(noise, 0, 256);  // incompressible: a PNG far larger than the small ones'
  const fs::path large = testing::write_rgb(dir / "images" / "ISIC_large.png", noise);
  std::ofstream(dir / "gt.csv") << "image_id,melanoma,seborrheic_keratosis\n"
                                   "ISIC_small1,1.0,0.0\nISIC_small2,0.0,1.0\n"
                                   "ISIC_small3,0.0,0.0\nISIC_large,0.0,0.0\n";
  PrepOptions o;
  o.sources = {{"isic2017", dir / "gt.csv", dir / "images", "train"}};
  o.out = dir / "manifest.csv";
  o.quiet = true;

  ASSERT_EQ(run_prep(o).manifest.entries.size(), 4u) << "every image is good";
  const testing::LargeAllocationsFail no_memory_for(fs::file_size(large));
  EXPECT_THROW(run_prep(o), std::bad_alloc);
}

}  // namespace
}  // namespace derm
