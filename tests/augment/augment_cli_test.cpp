#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "augment_fixture.hpp"
#include "derm/core/atomic_file.hpp"
#include "derm/augment/shard_files.hpp"
#include "derm/augment/tar.hpp"
#include "derm/version.hpp"

namespace derm {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

class AugmentCli : public ::testing::Test {
 protected:
  void SetUp() override { testing::make_augment_manifest(dir_ / "data", 4); }

  int run(const std::string& args, std::string* out = nullptr, std::string* err = nullptr) const {
    return testing::run_command(testing::tool_path("derm-augment").string() + " " + args, out, err);
  }
  std::string shard_args(const std::string& out, int threads = 2) const {
    return "--manifest " + (dir_ / "data" / "manifest.csv").string() + " --out " + (dir_ / out).string() +
           " --samples 5 --shard-size 2 --size 40 --seed 3 --quiet --threads " + std::to_string(threads);
  }
  // stderr of a failed run: one line naming `option`; exit code 2 for a bad
  // command line, 1 for other errors.
  void expect_one_line_error(const std::string& args, const std::string& option, int exit_code = 2) const {
    std::string err;
    EXPECT_EQ(run(args, nullptr, &err), exit_code) << args;
    EXPECT_NE(err.find(option), std::string::npos) << args << " -> " << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  }

  TempDir dir_;
};

TEST_F(AugmentCli, WritesShardsAndAJsonSummary) {
  std::string out, err;
  ASSERT_EQ(run(shard_args("shards") + " --json", &out, &err), 0) << err;
  const auto summary = nlohmann::json::parse(out);
  EXPECT_EQ(summary.at("shards_total"), 3);
  EXPECT_EQ(summary.at("samples_written"), 5);
  EXPECT_TRUE(summary.at("complete").get<bool>());
  EXPECT_TRUE(err.empty()) << "--quiet: " << err;
  std::string listing;
  ASSERT_EQ(testing::run_command("tar -tf " + (dir_ / "shards" / "shard-000001.tar").string(), &listing), 0);
  EXPECT_EQ(listing, "000000002.jpg\n000000002.json\n000000003.jpg\n000000003.json\n");
  EXPECT_TRUE(fs::exists(dir_ / "shards" / "index.json"));
}

TEST_F(AugmentCli, StopAndResumeGivesIdenticalShards) {
  ASSERT_EQ(run(shard_args("whole")), 0);
  ASSERT_EQ(run(shard_args("parts") + " --stop-after-shards 2"), 0);
  EXPECT_FALSE(fs::exists(dir_ / "parts" / "shard-000002.tar"));
  ASSERT_EQ(run(shard_args("parts", 1)), 0);
  for (int shard = 0; shard < 3; ++shard) {
    EXPECT_EQ(read_file(dir_ / "parts" / shard_name(shard)), read_file(dir_ / "whole" / shard_name(shard)))
        << shard_name(shard);
  }
  expect_one_line_error(shard_args("parts") + " --jpeg-quality 90", "different jpeg_quality", 1);
  expect_one_line_error(shard_args("parts") + " --rotation 0,90",
                        "different params (rotation_deg: was [0.0,360.0], now [0.0,90.0])", 1);
}

TEST_F(AugmentCli, ImpossibleOptionsAreOneLineErrorsNamingTheOption) {
  expect_one_line_error(shard_args("x") + " --samples 0", "--samples");
  expect_one_line_error(shard_args("x") + " --size 16", "--size");
  expect_one_line_error(shard_args("x") + " --jpeg-quality 101", "--jpeg-quality");
  expect_one_line_error(shard_args("x") + " --rotation 10,5", "--rotation");
  expect_one_line_error(shard_args("x") + " --cutout-area 0.2,0.1", "--cutout-area");
  expect_one_line_error(shard_args("x") + " --stretch 1.2,0.8", "--stretch");
  expect_one_line_error(shard_args("x") + " --hflip 2", "--hflip");
  expect_one_line_error(shard_args("x") + " --gamma abc", "--gamma");
  expect_one_line_error(shard_args("x") + " --rotation 5000", "--rotation");
  expect_one_line_error(shard_args("x") + " --cutout-fill pink", "--cutout-fill");
  expect_one_line_error(shard_args("x") + " --resize fit", "--resize");
  expect_one_line_error(shard_args("x") + " --seed -1", "--seed");
  expect_one_line_error(shard_args("x") + " --grid 2x2", "--grid");
  expect_one_line_error(shard_args("x") + " --shard-size 0", "--shard-size");
  expect_one_line_error(shard_args("x", 0), "--threads");
  expect_one_line_error("--out " + (dir_ / "y").string() + " --samples 3", "--manifest");
  EXPECT_FALSE(fs::exists(dir_ / "x" / "shard-000000.tar"));
  std::string out;
  EXPECT_EQ(run("--version", &out), 0);
  EXPECT_EQ(out, std::string("derm-augment ") + DERM_VERSION + "\n");
}

TEST_F(AugmentCli, PreviewWritesALabelledContactSheet) {
  const fs::path image = testing::write_rgb(dir_ / "lesion.png", testing::synthetic_lesion(300, 200, 1));
  std::string err;
  ASSERT_EQ(run("--preview " + image.string() + " --out " + (dir_ / "sheet.png").string() +
                    " --grid 3x2 --size 64",
                nullptr, &err),
            0)
      << err;
  const cv::Mat sheet = cv::imread((dir_ / "sheet.png").string());
  EXPECT_EQ(sheet.cols, 3 * 64 + 4 * 4);
  EXPECT_EQ(sheet.rows, 2 * 64 + 3 * 4);
  expect_one_line_error("--preview " + image.string() + " --out " + (dir_ / "s.png").string() + " --grid 3", "--grid");
  expect_one_line_error("--preview " + image.string() + " --out " + (dir_ / "s.txt").string(), "--out");
  expect_one_line_error("--preview " + image.string() + " --out " + (dir_ / "s.png").string() + " --samples 5",
                        "--samples");
  expect_one_line_error("--preview " + (dir_ / "none.png").string() + " --out " + (dir_ / "s.png").string(),
                        "none.png", 1);
}

}  // namespace
}  // namespace derm
