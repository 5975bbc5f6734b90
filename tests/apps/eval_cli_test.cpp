// derm-eval through its command line: scoring another system's predictions CSV
// against a manifest (values checked by hand), combining members' CSVs, and
// refused requests.
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "derm/core/atomic_file.hpp"
#include "test_support.hpp"
#include "tool_fixtures.hpp"

namespace derm::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

int eval(const std::string& args, std::string* out, std::string* err) {
  return run_command(quoted(tool_path("derm-eval")) + " --quiet " + args, out, err);
}

// write_synthetic_manifest(dir, 4): syn_0_{0,2} melanoma train, syn_0_{1,3}
// melanoma val, syn_1_{0,2} nevus train, syn_1_{1,3} nevus val.
void write_predictions(const fs::path& path, const std::vector<std::pair<std::string, double>>& rows) {
  std::ofstream out(path);
  out << "image_id,melanoma\n";
  for (const auto& [id, p] : rows) out << id << "," << p << "\n";
}

TEST(EvalCli, ScoresAPredictionsCsvAgainstAManifestSplit) {
  TempDir dir;
  const fs::path manifest = write_synthetic_manifest(dir / "data", 4);
  // Validation split: melanoma syn_0_1, syn_0_3; nevus syn_1_1, syn_1_3.
  // Scores 0.9, 0.4 (melanoma) and 0.6, 0.1 (nevus): of the 4 positive/negative
  // pairs, 3 are ordered right, so AUC = 0.75. At 0.5: tp 1, fn 1, fp 1, tn 1.
  write_predictions(dir / "p.csv", {{"syn_0_1", 0.9}, {"syn_0_3", 0.4}, {"syn_1_1", 0.6}, {"syn_1_3", 0.1}});
  std::string out, err;
  ASSERT_EQ(eval("--predictions " + quoted(dir / "p.csv") + " --manifest " + quoted(manifest) +
                     " --split val --out " + quoted(dir / "eval") + " --bootstrap 50 --json",
                 &out, &err),
            0)
      << err;
  const json report = json::parse(out);
  const auto& melanoma = report["decisions"]["mean_probability"]["one_vs_rest"]["melanoma"];
  EXPECT_DOUBLE_EQ(melanoma["auc"].get<double>(), 0.75);
  EXPECT_EQ(melanoma["tp"].get<int>(), 1);
  EXPECT_EQ(melanoma["fn"].get<int>(), 1);
  EXPECT_EQ(melanoma["fp"].get<int>(), 1);
  EXPECT_EQ(melanoma["tn"].get<int>(), 1);
  EXPECT_DOUBLE_EQ(melanoma["sensitivity"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(melanoma["specificity"].get<double>(), 0.5);
  for (const char* name : {"report.json", "predictions.csv", "roc_melanoma.png"}) {
    EXPECT_TRUE(fs::exists(dir / "eval" / name)) << name;
  }
}

TEST(EvalCli, ThresholdsChosenOnValidationAreAppliedToTheEvaluatedSplit) {
  TempDir dir;
  const fs::path manifest = write_synthetic_manifest(dir / "data", 4);
  // Validation: melanoma 0.8, 0.7; nevus 0.3, 0.2. Youden's J over the score
  // thresholds: 0.8 -> 1/2 + 1 - 1 = 0.5, 0.7 -> 1 (the maximum, first reached
  // at 0.7). On train (melanoma 0.75, 0.35; nevus 0.25, 0.1) threshold 0.7
  // finds 1 of 2 melanomas and no false positive.
  write_predictions(dir / "val.csv", {{"syn_0_1", 0.8}, {"syn_0_3", 0.7}, {"syn_1_1", 0.3}, {"syn_1_3", 0.2}});
  write_predictions(dir / "train.csv", {{"syn_0_0", 0.75}, {"syn_0_2", 0.35}, {"syn_1_0", 0.25}, {"syn_1_2", 0.1}});
  std::string out, err;
  ASSERT_EQ(eval("--predictions " + quoted(dir / "train.csv") + " --val-predictions " + quoted(dir / "val.csv") +
                     " --manifest " + quoted(manifest) + " --split train --val-split val --threshold-policy youden"
                     " --out " + quoted(dir / "eval") + " --bootstrap 0 --json",
                 &out, &err),
            0)
      << err;
  const json report = json::parse(out);
  const auto& melanoma = report["decisions"]["mean_probability"]["one_vs_rest"]["melanoma"];
  EXPECT_NEAR(melanoma["threshold"].get<double>(), 0.7, 1e-6);  // probabilities are floats
  EXPECT_DOUBLE_EQ(melanoma["specificity"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(melanoma["sensitivity"].get<double>(), 0.5);
}

// Members evaluated apart (each model's predictions.csv, on the validation and
// the evaluated split) and combined by repeated --predictions / --val-predictions
// give the report of the ensemble of their models, Youden thresholds included.
TEST(EvalCli, MembersScoredApartCombineIntoTheEnsembleOfTheirModels) {
  TempDir dir;
  const fs::path manifest = write_synthetic_manifest(dir / "data", 8);
  std::vector<fs::path> models;
  std::string model_args, csv_args, out, err;
  for (int m = 0; m < 3; ++m) {
    models.push_back(write_small_model(dir / ("m" + std::to_string(m) + ".safetensors"), {"melanoma", "nevus"}));
    model_args += " --model " + quoted(models.back());
    for (const std::string split : {"train", "val"}) {
      const fs::path member_out = dir / ("member" + std::to_string(m) + "-" + split);
      ASSERT_EQ(eval("--model " + quoted(models.back()) + " --manifest " + quoted(manifest) + " --split " + split +
                         " --out " + quoted(member_out) + " --bootstrap 0 --device cpu",
                     &out, &err),
                0)
          << err;
      csv_args +=
          (split == "train" ? " --predictions " : " --val-predictions ") + quoted(member_out / "predictions.csv");
    }
  }
  const std::string common = " --manifest " + quoted(manifest) +
                             " --split train --val-split val --threshold-policy youden --bootstrap 0 --json";
  ASSERT_EQ(eval(model_args + common + " --device cpu --out " + quoted(dir / "models"), &out, &err), 0) << err;
  const json by_models = json::parse(out);
  ASSERT_EQ(eval(csv_args + common + " --out " + quoted(dir / "csvs"), &out, &err), 0) << err;
  const json by_csvs = json::parse(out);

  ASSERT_EQ(by_csvs["members"].get<int>(), 3);
  ASSERT_EQ(by_csvs["member_reports"].size(), 3u);
  std::vector<std::pair<json, json>> decisions{
      {by_models["decisions"]["majority_vote"], by_csvs["decisions"]["majority_vote"]},
      {by_models["decisions"]["mean_probability"], by_csvs["decisions"]["mean_probability"]}};
  for (int m = 0; m < 3; ++m) decisions.emplace_back(by_models["member_reports"][m], by_csvs["member_reports"][m]);
  for (const auto& [expected, combined] : decisions) {
    const json& a = expected["one_vs_rest"]["melanoma"];
    const json& b = combined["one_vs_rest"]["melanoma"];
    const std::string name = expected["decision"].get<std::string>();
    EXPECT_EQ(combined["decision"], expected["decision"]);
    EXPECT_NEAR(b["auc"].get<double>(), a["auc"].get<double>(), 1e-9) << name;
    EXPECT_NEAR(b["threshold"].get<double>(), a["threshold"].get<double>(), 1e-6) << name;
    for (const char* count : {"tp", "fp", "tn", "fn"}) EXPECT_EQ(b[count], a[count]) << name << " " << count;
    EXPECT_EQ(combined["confusion_matrix"], expected["confusion_matrix"]) << name;
  }
  EXPECT_EQ(by_csvs["source"]["predictions_csvs"].size(), 3u);
  EXPECT_EQ(by_models["source"]["models"].size(), 3u);
  // report.json records what was evaluated, as the printed report does.
  EXPECT_EQ(json::parse(read_file(dir / "models" / "report.json"))["source"], by_models["source"]);
  EXPECT_EQ(json::parse(read_file(dir / "csvs" / "report.json"))["source"], by_csvs["source"]);
}

TEST(EvalCli, ImpossibleRequestsAreOneLineErrors) {
  TempDir dir;
  const fs::path manifest = write_synthetic_manifest(dir / "data", 4);
  const fs::path model = write_small_model(dir / "m.safetensors", {"melanoma", "nevus"});
  write_predictions(dir / "p.csv", {{"syn_0_1", 0.9}, {"syn_0_3", 0.4}, {"syn_1_1", 0.6}});
  write_predictions(dir / "q.csv", {{"syn_0_1", 0.9}, {"syn_0_3", 0.4}, {"syn_1_2", 0.6}});
  const std::vector<std::pair<std::string, std::string>> cases{
      {"--model " + quoted(model) + " --predictions " + quoted(dir / "p.csv") + " --manifest " + quoted(manifest),
       "either --model"},
      {"--model " + quoted(model) + " --manifest " + quoted(manifest) +
           " --split val --threshold-policy youden --val-split val",
       "is the evaluated split"},
      {"--predictions " + quoted(dir / "p.csv") + " --manifest " + quoted(manifest) + " --split val",
       "syn_1_3"},
      {"--predictions " + quoted(dir / "p.csv") + " --manifest " + quoted(manifest) + " --split nosuch", "nosuch"},
      {"--predictions " + quoted(dir / "p.csv") + " --manifest " + quoted(manifest) + " --threshold-policy guess",
       "guess"},
      {"--predictions " + quoted(dir / "p.csv") + " --predictions " + quoted(dir / "p.csv") + " --val-predictions " +
           quoted(dir / "p.csv") + " --manifest " + quoted(manifest) + " --threshold-policy youden",
       "one per member"},
      {"--predictions " + quoted(dir / "p.csv") + " --predictions " + quoted(dir / "q.csv") + " --manifest " +
           quoted(manifest) + " --split val",
       "q.csv"},
  };
  for (const auto& [args, expected] : cases) {
    std::string out, err;
    EXPECT_NE(eval(args + " --out " + quoted(dir / "eval"), &out, &err), 0) << args;
    EXPECT_NE(err.find(expected), std::string::npos) << args << " -> " << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << args << " -> " << err;
  }
}

TEST(EvalCli, ImpossibleOptionValuesAreBadCommandLines) {
  TempDir dir;
  const fs::path manifest = write_synthetic_manifest(dir / "data", 4);
  write_predictions(dir / "p.csv", {{"syn_0_1", 0.9}, {"syn_0_3", 0.4}, {"syn_1_1", 0.6}, {"syn_1_3", 0.1}});
  const std::string common =
      "--predictions " + quoted(dir / "p.csv") + " --manifest " + quoted(manifest) + " --split val --out " +
      quoted(dir / "eval");
  for (const std::string option : {"--threshold nan", "--threshold inf", "--target-sensitivity nan", "--seed -1",
                                   "--threshold-policy median", "--positive basal_cell", "--batch-size 0",
                                   "--bootstrap -1"}) {
    std::string out, err;
    EXPECT_EQ(eval(common + " " + option, &out, &err), 2) << option;
    EXPECT_NE(err.find(option.substr(0, option.find(' '))), std::string::npos) << option << " -> " << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << option << " -> " << err;
  }
  EXPECT_FALSE(fs::exists(dir / "eval"));
}

// As derm-classify does: a warning on stderr and "untrained" in the report.
TEST(EvalCli, AnUntrainedModelIsFlagged) {
  TempDir dir;
  const fs::path manifest = write_synthetic_manifest(dir / "data", 4);
  const fs::path model = write_small_model(dir / "m.safetensors", {"melanoma", "nevus"});
  std::string out, err;
  ASSERT_EQ(run_command(quoted(tool_path("derm-eval")) + " --model " + quoted(model) + " --manifest " +
                            quoted(manifest) + " --split val --out " + quoted(dir / "eval") +
                            " --bootstrap 0 --device cpu",
                        &out, &err),
            0)
      << err;
  EXPECT_NE(err.find("warning: the model is UNTRAINED"), std::string::npos) << err;
  EXPECT_TRUE(json::parse(read_file(dir / "eval" / "report.json")).at("untrained").get<bool>());

  ASSERT_EQ(eval("--predictions " + quoted(dir / "eval" / "predictions.csv") + " --manifest " + quoted(manifest) +
                     " --split val --out " + quoted(dir / "scored") + " --bootstrap 0",
                 &out, &err),
            0)
      << err;
  EXPECT_FALSE(json::parse(read_file(dir / "scored" / "report.json")).at("untrained").get<bool>());
}

}  // namespace
}  // namespace derm::testing
