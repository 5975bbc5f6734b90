// Reads the real ISIC 2017 ground truth (skipped when the data are absent).
#include <gtest/gtest.h>

#include <algorithm>

#include "derm/eval/ground_truth.hpp"
#include "test_support.hpp"

namespace derm {
namespace {

TEST(Isic2017GroundTruth, OfficialTestSplitCounts) {
  DERM_REQUIRE_DATA(data);
  const GroundTruth truth = read_isic2017_ground_truth(data / "isic2017" / "ISIC-2017_Test_v2_Part3_GroundTruth.csv");
  ASSERT_EQ(truth.ids.size(), 600u);
  EXPECT_EQ(std::count(truth.labels.begin(), truth.labels.end(), 0), 117);
  EXPECT_EQ(std::count(truth.labels.begin(), truth.labels.end(), 1), 90);
  EXPECT_EQ(std::count(truth.labels.begin(), truth.labels.end(), 2), 393);
}

}  // namespace
}  // namespace derm
