// write_augmented_shards when the system refuses its worker threads.
#include <gtest/gtest.h>
#include <opencv2/core/utility.hpp>

#include "augment_fixture.hpp"
#include "resource_failures.hpp"

namespace derm {

class ShardRunWithoutThreads : public testing::ShardRun {
 protected:
  // OpenCV's own thread pool would take thread starts too: it runs serially here.
  void SetUp() override {
    ShardRun::SetUp();
    opencv_threads_ = cv::getNumThreads();
    cv::setNumThreads(0);
  }
  void TearDown() override { cv::setNumThreads(opencv_threads_); }

  int opencv_threads_ = 1;
};

TEST_F(ShardRunWithoutThreads, FewerThreadsThanAskedWriteTheSameShards) {
  ShardRunOptions one = options("one");
  one.threads = 1;
  write_augmented_shards(manifest_, one);
  ShardRunOptions four = options("refused");
  four.threads = 4;
  ShardRunSummary summary;
  {
    const testing::ThreadStartsFailAfter refusing(1);
    summary = write_augmented_shards(manifest_, four);
  }
  EXPECT_TRUE(summary.complete);
  EXPECT_EQ(summary.samples_written, 7);
  EXPECT_EQ(shard_bytes("refused"), shard_bytes("one"));
}

TEST_F(ShardRunWithoutThreads, NoThreadAtAllIsAClearError) {
  const testing::ThreadStartsFailAfter refusing(0);
  const std::string message = error_of(options("out"));
  EXPECT_NE(message.find("cannot start an augmentation thread"), std::string::npos) << message;
}

}  // namespace derm
