// The researcher's path end to end on a small slice of the real ISIC 2017 data:
// derm-prep -> derm-train (2-member ensemble) -> derm-eval -> derm-classify.
// The ISIC 2017 test split is not touched: the slice's "test" comes from the
// official validation split.
#include <fstream>
#include <map>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_support.hpp"
#include "tool_fixtures.hpp"

namespace derm::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The first `per_class` rows of each class of an ISIC 2017 ground-truth CSV,
// skipping `skip` rows of each class.
void write_slice(const fs::path& from, const fs::path& to, int per_class, int skip) {
  std::ifstream in(from);
  std::ofstream out(to);
  std::string line;
  std::getline(in, line);
  out << line << "\n";
  std::map<std::string, int> seen;
  while (std::getline(in, line)) {
    const std::string labels = line.substr(line.find(','));
    const int n = seen[labels]++;
    if (n >= skip && n < skip + per_class) out << line << "\n";
  }
}

int run_tool(const std::string& tool, const std::string& args, std::string* out, std::string* err) {
  return run_command(quoted(tool_path(tool)) + " " + args, out, err);
}

TEST(PipelineEndToEnd, PrepTrainEvalClassifyOnRealData) {
  DERM_REQUIRE_DATA(data);
  const fs::path isic = data / "isic2017";
  TempDir dir;
  write_slice(isic / "ISIC-2017_Training_Part3_GroundTruth.csv", dir / "train.csv", 8, 0);
  write_slice(isic / "ISIC-2017_Training_Part3_GroundTruth.csv", dir / "val.csv", 4, 8);
  write_slice(isic / "ISIC-2017_Validation_Part3_GroundTruth.csv", dir / "test.csv", 6, 0);
  const std::string images = (isic / "images").string();
  std::string out, err;

  ASSERT_EQ(run_tool("derm-prep",
                     "--task isic2017 --out " + quoted(dir / "manifest.csv") + " --source isic2017:" +
                         (dir / "train.csv").string() + ":" + images + ":train --source isic2017:" +
                         (dir / "val.csv").string() + ":" + images + ":val --source isic2017:" +
                         (dir / "test.csv").string() + ":" + images + ":test --quiet --json",
                     &out, &err),
            0)
      << err;
  const json prep = json::parse(out);
  ASSERT_TRUE(fs::exists(dir / "manifest.csv"));

  ASSERT_EQ(run_tool("derm-train",
                     "--manifest " + quoted(dir / "manifest.csv") + " --out " + quoted(dir / "ensemble") +
                         " --ensemble 2 --input-size 75 --backbone-size 75 --batch-size 8 --epochs 6"
                         " --no-augment --balance none --label-smoothing 0 --device cpu --threads 2 --quiet --json",
                     &out, &err),
            0)
      << err;
  const json summary = json::parse(out);
  ASSERT_EQ(summary["members"].size(), 2u);
  for (const auto& member : summary["members"]) {
    const auto& history = member["history"];
    ASSERT_EQ(history.size(), 6u);
    const double first = history[0]["train_loss"];
    const double last_two = (history[4]["train_loss"].get<double>() + history[5]["train_loss"].get<double>()) / 2;
    EXPECT_LT(last_two, first) << "member " << member["member"] << ": training loss must go down";
    for (const auto& epoch : history) {
      EXPECT_GE(epoch["val_accuracy"].get<double>(), 0.0);
      EXPECT_LE(epoch["val_accuracy"].get<double>(), 1.0);
    }
  }
  for (const char* name : {"ensemble.json", "member-1.safetensors", "member-2.safetensors", "summary.json",
                           "train-log.jsonl"}) {
    EXPECT_TRUE(fs::exists(dir / "ensemble" / name)) << name;
  }

  ASSERT_EQ(run_tool("derm-eval",
                     "--model " + quoted(dir / "ensemble") + " --manifest " + quoted(dir / "manifest.csv") +
                         " --split test --out " + quoted(dir / "eval") +
                         " --threshold-policy youden --val-split val --bootstrap 100 --device cpu --quiet --json",
                     &out, &err),
            0)
      << err;
  const json report = json::parse(out);
  EXPECT_EQ(report["images"].get<int>(), 18);
  for (const char* rule : {"majority_vote", "mean_probability"}) {
    for (const char* positive : {"melanoma", "seborrheic_keratosis"}) {
      const auto& metrics = report["decisions"][rule]["one_vs_rest"][positive];
      for (const char* key : {"auc", "accuracy", "sensitivity", "specificity"}) {
        ASSERT_TRUE(metrics[key].is_number()) << rule << " " << positive << " " << key;
        EXPECT_GE(metrics[key].get<double>(), 0.0);
        EXPECT_LE(metrics[key].get<double>(), 1.0);
      }
    }
  }
  EXPECT_EQ(report["member_reports"].size(), 2u);
  for (const char* name : {"report.json", "predictions.csv", "roc_melanoma.png", "roc_seborrheic_keratosis.png"}) {
    EXPECT_GT(fs::file_size(dir / "eval" / name), 100u) << name;
  }

  const fs::path image = isic / "images" / "ISIC_0000000.jpg";
  ASSERT_EQ(run_tool("derm-classify", "--json --device cpu --model " + quoted(dir / "ensemble") + " " + quoted(image),
                     &out, &err),
            0)
      << err;
  const json classified = json::parse(out);
  EXPECT_FALSE(classified["untrained"].get<bool>());
  EXPECT_TRUE(classified["images"][0]["ok"].get<bool>());
}

}  // namespace
}  // namespace derm::testing
