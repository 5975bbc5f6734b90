// write_augmented_shards when the system refuses its worker threads.
#include <gtest/gtest.h>
#include <opencv2/core/utility.hpp>

#include "augment_fixture.hpp"
#include "derm/atomic_file.hpp"
#include "derm/error.hpp"
#include "derm/shards.hpp"
#include "resource_failures.hpp"

namespace derm {

class ShardRunWithoutThreads : public ::testing::Test {
 protected:
  // OpenCV's own thread pool would take thread starts too: it runs serially here.
  void SetUp() override {
    opencv_threads_ = cv::getNumThreads();
    cv::setNumThreads(0);
    manifest_ = testing::make_augment_manifest(dir_ / "data", 4);
  }
  void TearDown() override { cv::setNumThreads(opencv_threads_); }

  ShardRunOptions options(const std::string& out, int threads) const {
    ShardRunOptions o;
    o.out_dir = dir_ / out;
    o.samples = 6;
    o.shard_size = 3;
    o.seed = 5;
    o.threads = threads;
    o.quiet = true;
    o.params.output_size = 40;
    return o;
  }

  std::string shard_bytes(const std::string& out) const {
    return read_file(dir_ / out / shard_name(0)) + read_file(dir_ / out / shard_name(1));
  }

  int opencv_threads_ = 1;
  testing::TempDir dir_;
  Manifest manifest_;
};

TEST_F(ShardRunWithoutThreads, FewerThreadsThanAskedWriteTheSameShards) {
  write_augmented_shards(manifest_, options("one", 1));
  ShardRunSummary summary;
  {
    const testing::ThreadStartsFailAfter refusing(1);
    summary = write_augmented_shards(manifest_, options("refused", 4));
  }
  EXPECT_TRUE(summary.complete);
  EXPECT_EQ(summary.samples_written, 6);
  EXPECT_EQ(shard_bytes("refused"), shard_bytes("one"));
}

TEST_F(ShardRunWithoutThreads, NoThreadAtAllIsAClearError) {
  std::string message;
  try {
    const testing::ThreadStartsFailAfter refusing(0);
    write_augmented_shards(manifest_, options("out", 2));
  } catch (const Error& e) {
    message = e.what();
  }
  EXPECT_NE(message.find("cannot start an augmentation thread"), std::string::npos) << message;
}

}  // namespace derm
