// derm-classify through its command line: output formats, ensembles, and the
// bad-input corpus (each bad file is named in one error line, the others are
// still classified, the exit code says some failed).
#include <cstring>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "test_support.hpp"
#include "tool_fixtures.hpp"

namespace derm::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::vector<std::string> kClasses{"melanoma", "seborrheic_keratosis", "nevus"};

std::string classify(const std::string& args, std::string* out, std::string* err, int* code) {
  *code = run_command(quoted(tool_path("derm-classify")) + " --device cpu --threads 1 " + args, out, err);
  return *out;
}

int count_lines(const std::string& text) { return static_cast<int>(std::count(text.begin(), text.end(), '\n')); }

class ClassifyCli : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = write_small_model(dir_ / "model.safetensors", kClasses);
    good_ = write_rgb(dir_ / "good.png", synthetic_lesion(120, 90, 7));
  }
  TempDir dir_;
  fs::path model_;
  fs::path good_;
};

TEST_F(ClassifyCli, JsonHasProbabilitiesVotesAndLogits) {
  std::string out, err;
  int code = 0;
  classify("--json --logits --model " + quoted(model_) + " " + quoted(good_), &out, &err, &code);
  ASSERT_EQ(code, 0) << err;
  const json result = json::parse(out);
  EXPECT_TRUE(result.at("untrained").get<bool>());
  ASSERT_EQ(result.at("images").size(), 1u);
  const auto& image = result["images"][0];
  EXPECT_TRUE(image.at("ok").get<bool>());
  double sum = 0;
  for (const auto& name : kClasses) sum += image["mean_probability"]["probabilities"][name].get<double>();
  EXPECT_NEAR(sum, 1.0, 1e-5);
  EXPECT_EQ(image["members"][0]["logits"].size(), 3u);
  EXPECT_NE(err.find("UNTRAINED"), std::string::npos);
}

TEST_F(ClassifyCli, EnsembleOfSeveralModelsVotes) {
  const fs::path second = write_small_model(dir_ / "second.safetensors", kClasses);
  std::string out, err;
  int code = 0;
  classify("--json --model " + quoted(model_) + " -m " + quoted(second) + " " + quoted(good_) + " " + quoted(good_),
           &out, &err, &code);
  ASSERT_EQ(code, 0) << err;
  const json result = json::parse(out);
  ASSERT_EQ(result["models"].size(), 2u);
  for (const auto& image : result["images"]) {
    int votes = 0;
    for (const auto& [name, n] : image["majority_vote"]["votes"].items()) votes += n.get<int>();
    EXPECT_EQ(votes, 2);
    EXPECT_EQ(image["members"].size(), 2u);
  }
}

TEST_F(ClassifyCli, EnsembleWithOtherClassesIsRefused) {
  const fs::path other = write_small_model(dir_ / "other.safetensors", {"melanoma", "benign"});
  std::string out, err;
  int code = 0;
  classify("--model " + quoted(model_) + " --model " + quoted(other) + " " + quoted(good_), &out, &err, &code);
  EXPECT_EQ(code, 1);
  EXPECT_NE(err.find("other.safetensors: its classes differ"), std::string::npos) << err;
}

TEST_F(ClassifyCli, BadInputCorpusFailsPerFileAndTheRestIsClassified) {
  const fs::path bad = dir_ / "bad";
  fs::create_directories(bad);
  std::ofstream(bad / "empty.jpg").close();
  std::ofstream(bad / "text.jpg") << "not an image at all\n";
  std::vector<uchar> jpeg;
  cv::imencode(".jpg", synthetic_lesion(200, 200, 3), jpeg);
  std::ofstream(bad / "truncated.jpg", std::ios::binary)
      .write(reinterpret_cast<const char*>(jpeg.data()), static_cast<std::streamsize>(jpeg.size() / 2));
  // Cut short, but still ending with an end-of-image marker: OpenCV would decode it with a grey patch.
  std::vector<uchar> cut(jpeg.begin(), jpeg.begin() + static_cast<std::ptrdiff_t>(jpeg.size() / 2));
  cut.insert(cut.end(), {0xFF, 0xD9});
  std::ofstream(bad / "cut_with_end_marker.jpg", std::ios::binary)
      .write(reinterpret_cast<const char*>(cut.data()), static_cast<std::streamsize>(cut.size()));
  ASSERT_TRUE(cv::imwrite((bad / "one_pixel.png").string(), cv::Mat(1, 1, CV_8UC3, cv::Scalar(1, 2, 3))));
  ASSERT_TRUE(cv::imwrite((bad / "gray.png").string(), cv::Mat(64, 64, CV_8UC1, cv::Scalar(9))));
  // A BMP header claiming 50000 x 50000 pixels (2.5 gigapixels).
  std::vector<uchar> bmp;
  cv::imencode(".bmp", cv::Mat(8, 8, CV_8UC3, cv::Scalar(1, 2, 3)), bmp);
  const std::int32_t huge = 50000;
  std::memcpy(bmp.data() + 18, &huge, 4);
  std::memcpy(bmp.data() + 22, &huge, 4);
  std::ofstream(bad / "huge.bmp", std::ios::binary).write(reinterpret_cast<const char*>(bmp.data()),
                                                           static_cast<std::streamsize>(bmp.size()));
  const std::vector<std::string> bad_names{"missing.jpg", "empty.jpg", "text.jpg", "truncated.jpg",
                                           "one_pixel.png", "gray.png", "huge.bmp", "cut_with_end_marker.jpg"};
  // Accepted variants of a good image: 16 bits per channel, and an alpha channel.
  cv::Mat deep;
  cv::cvtColor(synthetic_lesion(80, 80, 4), deep, cv::COLOR_RGB2BGR);
  deep.convertTo(deep, CV_16UC3, 257.0);
  ASSERT_TRUE(cv::imwrite((dir_ / "deep16.png").string(), deep));
  cv::Mat alpha;
  cv::cvtColor(synthetic_lesion(80, 80, 5), alpha, cv::COLOR_RGB2BGRA);
  ASSERT_TRUE(cv::imwrite((dir_ / "alpha.png").string(), alpha));

  std::string args = "--json --model " + quoted(model_) + " " + quoted(good_);
  for (const auto& name : bad_names) args += " " + quoted(bad / name);
  args += " " + quoted(dir_ / "deep16.png") + " " + quoted(dir_ / "alpha.png");
  std::string out, err;
  int code = 0;
  classify(args, &out, &err, &code);
  EXPECT_EQ(code, 3) << "some images failed: the exit code must say so\n" << err;
  const json result = json::parse(out);
  EXPECT_EQ(result["failed"].get<int>(), static_cast<int>(bad_names.size()));
  ASSERT_EQ(result["images"].size(), bad_names.size() + 3);
  EXPECT_TRUE(result["images"][0]["ok"].get<bool>());
  EXPECT_TRUE(result["images"][bad_names.size() + 1]["ok"].get<bool>()) << "16-bit PNG";
  EXPECT_TRUE(result["images"][bad_names.size() + 2]["ok"].get<bool>()) << "PNG with alpha";
  for (std::size_t i = 0; i < bad_names.size(); ++i) {
    const auto& image = result["images"][i + 1];
    EXPECT_FALSE(image["ok"].get<bool>()) << bad_names[i];
    const std::string error = image["error"];
    EXPECT_NE(error.find(bad_names[i] + ": "), std::string::npos) << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << "one line: " << error;
    EXPECT_NE(err.find("derm-classify: error: " + (bad / bad_names[i]).string() + ": "), std::string::npos)
        << bad_names[i] << " not reported on stderr:\n" << err;
  }
  EXPECT_NE(result["images"][6]["error"].get<std::string>().find("grayscale"), std::string::npos);
  // Every line on stderr is the tool's own (errors, progress): the image decoders print nothing.
  std::istringstream lines(err);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_TRUE(line.rfind("derm-classify: ", 0) == 0 || line.rfind("classify: ", 0) == 0) << line;
  }
}

TEST_F(ClassifyCli, AllImagesBadIsFailureAndBadModelIsOneLine) {
  std::string out, err;
  int code = 0;
  classify("--model " + quoted(model_) + " " + quoted(dir_ / "nope.jpg"), &out, &err, &code);
  EXPECT_EQ(code, 1);

  std::ofstream(dir_ / "fake.safetensors") << "garbage that is not a model but long enough to have a header";
  classify("--model " + quoted(dir_ / "fake.safetensors") + " " + quoted(good_), &out, &err, &code);
  EXPECT_EQ(code, 1);
  EXPECT_EQ(count_lines(err), 1) << err;
  EXPECT_NE(err.find("fake.safetensors: not a derm model file"), std::string::npos) << err;

  // The same model twice, even under another name, would vote twice.
  classify("--model " + quoted(model_) + " --model " + quoted(model_.parent_path() / "." / model_.filename()) + " " +
               quoted(good_),
           &out, &err, &code);
  EXPECT_EQ(code, 2);
  EXPECT_NE(err.find("model given twice"), std::string::npos) << err;

  classify("--model " + quoted(model_) + " --tta 3 " + quoted(good_), &out, &err, &code);
  EXPECT_EQ(code, 2);
  EXPECT_NE(err.find("--tta"), std::string::npos) << err;
}

TEST_F(ClassifyCli, TestTimeAugmentationKeepsProbabilitiesNormalised) {
  std::string out, err;
  int code = 0;
  classify("--json --tta 8 --model " + quoted(model_) + " " + quoted(good_), &out, &err, &code);
  ASSERT_EQ(code, 0) << err;
  const json result = json::parse(out);
  EXPECT_EQ(result["tta_views"].get<int>(), 8);
  double sum = 0;
  for (const auto& [name, p] : result["images"][0]["mean_probability"]["probabilities"].items()) sum += p.get<double>();
  EXPECT_NEAR(sum, 1.0, 1e-5);
}

TEST_F(ClassifyCli, FoldersAreExpandedToTheirImages) {
  fs::create_directories(dir_ / "folder" / "sub");
  write_rgb(dir_ / "folder" / "a.png", synthetic_lesion(64, 64, 1));
  write_rgb(dir_ / "folder" / "sub" / "b.JPG", synthetic_lesion(64, 64, 2));
  std::ofstream(dir_ / "folder" / "notes.txt") << "not an image";
  std::string out, err;
  int code = 0;
  classify("--json --model " + quoted(model_) + " " + quoted(dir_ / "folder"), &out, &err, &code);
  ASSERT_EQ(code, 0) << err;
  const json result = json::parse(out);
  ASSERT_EQ(result["images"].size(), 2u);
  EXPECT_EQ(result["images"][0]["image"], (dir_ / "folder" / "a.png").string());
  EXPECT_EQ(result["images"][1]["image"], (dir_ / "folder" / "sub" / "b.JPG").string());

  fs::create_directories(dir_ / "empty");
  classify("--model " + quoted(model_) + " " + quoted(dir_ / "empty"), &out, &err, &code);
  EXPECT_EQ(code, 1);
  EXPECT_NE(err.find("empty: folder holds no image"), std::string::npos) << err;
}

// CUDA graphs concern the GPU alone: on the CPU the switch changes nothing.
TEST_F(ClassifyCli, NoCudaGraphsGivesTheSameLogitsOnTheCpu) {
  std::string with_graphs, without, err;
  int code = 0;
  classify("--json --logits --model " + quoted(model_) + " " + quoted(good_), &with_graphs, &err, &code);
  ASSERT_EQ(code, 0) << err;
  classify("--json --logits --no-cuda-graphs --model " + quoted(model_) + " " + quoted(good_), &without, &err, &code);
  ASSERT_EQ(code, 0) << err;
  EXPECT_EQ(json::parse(with_graphs)["images"][0]["members"][0]["logits"],
            json::parse(without)["images"][0]["members"][0]["logits"]);
}

TEST(ClassifyCliHelp, DescribesEveryOption) {
  std::string out, err;
  ASSERT_EQ(run_command(quoted(tool_path("derm-classify")) + " --help", &out, &err), 0);
  for (const char* option : {"--model", "--json", "--logits", "--device", "--threads", "--no-cuda-graphs", "--batch-size",
                             "--tta", "--quiet"}) {
    EXPECT_NE(out.find(option), std::string::npos) << option;
  }
}

}  // namespace
}  // namespace derm::testing
