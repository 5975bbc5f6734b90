// The built derm-prep: exit codes, one-line errors, JSON on stdout.
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "derm/version.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using derm::testing::TempDir;

int run_prep(const std::string& args, std::string* out, std::string* err) {
  return derm::testing::run_command(derm::testing::tool_path("derm-prep").string() + " " + args, out, err);
}

int count_lines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

TEST(PrepCli, HelpDocumentsTasksAndSources) {
  std::string out, err;
  ASSERT_EQ(run_prep("--help", &out, &err), 0);
  EXPECT_NE(out.find("mel->melanoma, bkl->seborrheic_keratosis, nv->nevus"), std::string::npos) << out;
  EXPECT_NE(out.find("ham10000:CSV:IMAGE_DIR"), std::string::npos);
  EXPECT_NE(out.find("--drop-leaks"), std::string::npos);
  ASSERT_EQ(run_prep("--version", &out, &err), 0);
  EXPECT_EQ(out, std::string("derm-prep ") + DERM_VERSION + "\n");
}

TEST(PrepCli, ErrorsAreOneLineWithExitCodes) {
  TempDir dir;
  std::string out, err;
  EXPECT_EQ(run_prep("--out " + (dir / "m.csv").string() + " --bogus", &out, &err), 2);
  EXPECT_EQ(count_lines(err), 1) << err;

  std::ofstream(dir / "gt.csv") << "image,MEL\nISIC_1,1.0\n";
  fs::create_directories(dir / "images");
  EXPECT_EQ(run_prep("--out " + (dir / "m.csv").string() + " --source isic2017:" + (dir / "gt.csv").string() +
                         ":" + (dir / "images").string() + ":train",
                     &out, &err),
            1);
  EXPECT_EQ(count_lines(err), 1) << err;
  EXPECT_NE(err.find("derm-prep: error: "), std::string::npos) << err;
  EXPECT_NE(err.find("expected the header 'image_id,melanoma,seborrheic_keratosis'"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(dir / "m.csv"));

  // Impossible option values are bad command lines.
  EXPECT_EQ(run_prep("--out " + (dir / "m.csv").string() + " --source nope:x:y", &out, &err), 2);
  EXPECT_NE(err.find("unknown format 'nope'"), std::string::npos) << err;
  EXPECT_EQ(run_prep("--out " + (dir / "m.csv").string() + " --task nope --source folders:" + dir.path().string(), &out, &err), 2);
  EXPECT_NE(err.find("--task: unknown task 'nope'"), std::string::npos) << err;
  EXPECT_EQ(run_prep("--out " + (dir / "m.csv").string() + " --seed -1 --source folders:" + dir.path().string(), &out, &err), 2);
  EXPECT_NE(err.find("--seed: must be at least 0, got -1"), std::string::npos) << err;
  EXPECT_EQ(run_prep("--out " + (dir / "m.csv").string() + " --cache-policy fit --source folders:" + dir.path().string(), &out, &err), 2);
  EXPECT_NE(err.find("--cache-policy: unknown resize policy 'fit'"), std::string::npos) << err;
}

TEST(PrepCli, FoldersSourceWithJsonSummary) {
  TempDir dir;
  for (const auto& [cls, n] : {std::pair<std::string, int>{"melanoma", 4}, {"nevus", 6}}) {
    fs::create_directories(dir / "data" / cls);
    for (int i = 0; i < n; ++i) {
      derm::testing::write_rgb(dir / "data" / cls / (cls + std::to_string(i) + ".png"),
                               derm::testing::synthetic_lesion(48, 48, static_cast<std::uint64_t>(i * 10 + n)));
    }
  }
  std::string out, err;
  ASSERT_EQ(run_prep("--task melanoma --quiet --json --split 0.5,0.5 --near-distance -1 --out " +
                         (dir / "m.csv").string() + " --source folders:" + (dir / "data").string(),
                     &out, &err),
            0)
      << err;
  const auto summary = nlohmann::json::parse(out);
  EXPECT_EQ(summary["entries"], 10);
  EXPECT_EQ(summary["counts"]["train"]["total"].get<int>() + summary["counts"]["test"]["total"].get<int>(), 10);
  EXPECT_EQ(summary["counts"]["test"]["melanoma"], 2);
  EXPECT_TRUE(err.empty()) << err;
  EXPECT_TRUE(fs::exists(dir / "m.csv"));
}

// The manifest and the summary are written together or not at all.
TEST(PrepCli, AnUnwritableSummaryLeavesNoManifest) {
  TempDir dir;
  for (const auto& cls : {"melanoma", "nevus"}) {
    fs::create_directories(dir / "data" / cls);
    for (int i = 0; i < 2; ++i) {
      derm::testing::write_rgb(dir / "data" / cls / (cls + std::to_string(i) + ".png"),
                               derm::testing::synthetic_lesion(48, 48, static_cast<std::uint64_t>(i + 1)));
    }
  }
  std::ofstream(dir / "file") << "a file, not a folder\n";
  const std::string args = "--task melanoma --quiet --split 0.5,0.5 --near-distance -1 --out " +
                           (dir / "m.csv").string() + " --source folders:" + (dir / "data").string();
  std::string out, err;
  EXPECT_EQ(run_prep(args + " --summary " + (dir / "file" / "s.json").string(), &out, &err), 1);
  EXPECT_EQ(count_lines(err), 1) << err;
  EXPECT_NE(err.find((dir / "file" / "s.json").string()), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(dir / "m.csv"));
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    EXPECT_EQ(entry.path().filename().string().find(".m.csv"), std::string::npos) << entry.path();
  }

  ASSERT_EQ(run_prep(args + " --summary " + (dir / "s.json").string(), &out, &err), 0) << err;
  EXPECT_TRUE(fs::exists(dir / "m.csv"));
  std::ifstream summary(dir / "s.json");
  EXPECT_EQ(nlohmann::json::parse(summary)["entries"], 4);
}

}  // namespace
