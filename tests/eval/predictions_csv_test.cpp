#include "derm/eval/ground_truth.hpp"
#include "derm/eval/predictions_csv.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "derm/core/atomic_file.hpp"
#include "derm/core/error.hpp"
#include "derm/eval/evaluation_outputs.hpp"
#include "evaluation_fixture.hpp"
#include "test_support.hpp"

namespace derm {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kIsicClasses{"melanoma", "seborrheic_keratosis", "nevus"};

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected derm::Error";
  return "";
}

TEST(PredictionsCsv, RoundTripOfOneModel) {
  testing::TempDir dir;
  Predictions written;
  written.classes = kIsicClasses;
  written.ids = {"ISIC_0000001", "ISIC_0000002"};
  written.member_probabilities = {{{0.123456789f, 0.25f, 0.626543211f}, {1e-7f, 0.0f, 0.9999999f}}};
  write_predictions_csv(dir / "p.csv", written);

  const std::string text = read_file(dir / "p.csv");
  EXPECT_EQ(text.substr(0, text.find('\n')), "image_id,melanoma,seborrheic_keratosis");
  const Predictions read = read_predictions_csv(dir / "p.csv", kIsicClasses);
  EXPECT_EQ(read.ids, written.ids);
  ASSERT_EQ(read.members(), 1u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(read.member_probabilities[0][i][0], written.member_probabilities[0][i][0]);
    EXPECT_EQ(read.member_probabilities[0][i][1], written.member_probabilities[0][i][1]);
  }
  // The rest class is 1 - the others.
  EXPECT_NEAR(read.member_probabilities[0][0][2], 1.0 - 0.123456789 - 0.25, 1e-6);
}

TEST(PredictionsCsv, EnsembleIsWrittenAsItsMeanProbability) {
  testing::TempDir dir;
  Predictions two;
  two.classes = {"melanoma", "benign"};
  two.ids = {"a"};
  two.member_probabilities = {{{0.2f, 0.8f}}, {{0.6f, 0.4f}}};
  write_predictions_csv(dir / "p.csv", two);
  const Predictions read = read_predictions_csv(dir / "p.csv", two.classes);
  EXPECT_NEAR(read.member_probabilities[0][0][0], 0.4, 1e-6);
  EXPECT_EQ(read_file(dir / "p.csv").substr(0, 18), "image_id,melanoma\n");
}

TEST(PredictionsCsv, MembersFromTheirOwnFilesAreAlignedOnTheFirstFilesRows) {
  testing::TempDir dir;
  write_text(dir / "m1.csv", "image_id,melanoma,seborrheic_keratosis\na,0.5,0.25\nb,0.125,0.75\n");
  write_text(dir / "m2.csv", "image_id,melanoma,seborrheic_keratosis\nb,0.0625,0.5\na,0.875,0\n");
  const Predictions ensemble = read_member_predictions_csvs({dir / "m1.csv", dir / "m2.csv"}, kIsicClasses);
  EXPECT_EQ(ensemble.ids, (std::vector<std::string>{"a", "b"}));
  ASSERT_EQ(ensemble.members(), 2u);
  EXPECT_EQ(ensemble.member_probabilities[1][0], (std::vector<float>{0.875f, 0.0f, 0.125f}));
  EXPECT_EQ(ensemble.member_probabilities[1][1], (std::vector<float>{0.0625f, 0.5f, 0.4375f}));
  EXPECT_EQ(ensemble.member_probabilities[0][1], (std::vector<float>{0.125f, 0.75f, 0.125f}));

  write_text(dir / "other.csv", "image_id,melanoma,seborrheic_keratosis\na,0.5,0.25\nc,0.125,0.75\n");
  const std::string other =
      error_of([&] { read_member_predictions_csvs({dir / "m1.csv", dir / "other.csv"}, kIsicClasses); });
  EXPECT_NE(other.find("other.csv"), std::string::npos) << other;
  EXPECT_NE(other.find("not there: c"), std::string::npos) << other;
  write_text(dir / "fewer.csv", "image_id,melanoma,seborrheic_keratosis\na,0.5,0.25\n");
  const std::string fewer =
      error_of([&] { read_member_predictions_csvs({dir / "m1.csv", dir / "fewer.csv"}, kIsicClasses); });
  EXPECT_NE(fewer.find("fewer.csv: its 1 image ids"), std::string::npos) << fewer;
}

TEST(PredictionsCsv, ReadsIdProbabilityForABinaryTask) {
  testing::TempDir dir;
  write_text(dir / "p.csv", "id,probability\r\na,0.8\r\nb,0.25\r\n");
  const Predictions read = read_predictions_csv(dir / "p.csv", {"melanoma", "benign"});
  EXPECT_EQ(read.ids, (std::vector<std::string>{"a", "b"}));
  EXPECT_FLOAT_EQ(read.member_probabilities[0][0][0], 0.8f);
  EXPECT_FLOAT_EQ(read.member_probabilities[0][1][1], 0.75f);
  // Not for three classes.
  EXPECT_THROW(read_predictions_csv(dir / "p.csv", kIsicClasses), Error);
}

TEST(PredictionsCsv, WrongHeaderIsAOneLineErrorNamingTheFile) {
  testing::TempDir dir;
  write_text(dir / "bad.csv", "image_id,melanoma,keratosis\na,0.1,0.2\n");
  const std::string message = error_of([&] { read_predictions_csv(dir / "bad.csv", kIsicClasses); });
  EXPECT_NE(message.find("bad.csv"), std::string::npos) << message;
  EXPECT_NE(message.find("image_id,melanoma,seborrheic_keratosis"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

TEST(PredictionsCsv, BadRowsAreErrorsWithTheLine) {
  testing::TempDir dir;
  write_text(dir / "p.csv", "image_id,melanoma,seborrheic_keratosis\na,0.1,0.2\nb,1.5,0.1\n");
  EXPECT_NE(error_of([&] { read_predictions_csv(dir / "p.csv", kIsicClasses); }).find("line 3"), std::string::npos);
  write_text(dir / "p.csv", "image_id,melanoma,seborrheic_keratosis\na,0.1,0.2\na,0.1,0.2\n");
  EXPECT_NE(error_of([&] { read_predictions_csv(dir / "p.csv", kIsicClasses); }).find("duplicate"),
            std::string::npos);
  write_text(dir / "p.csv", "image_id,melanoma,seborrheic_keratosis\na,0.1\n");
  EXPECT_THROW(read_predictions_csv(dir / "p.csv", kIsicClasses), Error);
  write_text(dir / "p.csv", "image_id,melanoma,seborrheic_keratosis\n");
  EXPECT_THROW(read_predictions_csv(dir / "p.csv", kIsicClasses), Error);
  write_text(dir / "p.csv", "image_id,melanoma,seborrheic_keratosis\na,0.1,0.2\nb,0.1,0.2,0.3\n");
  const std::string extra = error_of([&] { read_predictions_csv(dir / "p.csv", kIsicClasses); });
  EXPECT_NE(extra.find("p.csv: line 3: 4 fields, expected 3"), std::string::npos) << extra;
}

// The rest class is 1 minus the others, so they cannot sum to more than 1.
TEST(PredictionsCsv, ProbabilitiesSummingToMoreThanOneAreAnErrorWithTheLine) {
  testing::TempDir dir;
  write_text(dir / "p.csv", "image_id,melanoma,seborrheic_keratosis\na,0.6,0.4004\nISIC_x,0.9,0.9\n");
  const std::string message = error_of([&] { read_predictions_csv(dir / "p.csv", kIsicClasses); });
  EXPECT_NE(message.find("p.csv: line 3: probabilities sum to 1.8, more than 1"), std::string::npos) << message;

  write_text(dir / "m1.csv", "image_id,melanoma,seborrheic_keratosis\na,0.6,0.4004\nISIC_x,0.5,0.5\n");
  const std::string member =
      error_of([&] { read_member_predictions_csvs({dir / "m1.csv", dir / "p.csv"}, kIsicClasses); });
  EXPECT_NE(member.find("p.csv: line 3"), std::string::npos) << member;

  // Rounding within 1e-3 is accepted; the rest class is then 0.
  const Predictions rounded = read_predictions_csv(dir / "m1.csv", kIsicClasses);
  EXPECT_EQ(rounded.member_probabilities[0][0][2], 0.0f);
}

TEST(PredictionsCsv, AUtf8ByteOrderMarkIsSkipped) {
  testing::TempDir dir;
  write_text(dir / "p.csv", "\xEF\xBB\xBFimage_id,melanoma,seborrheic_keratosis\r\na,0.5,0.25\r\n");
  const Predictions read = read_predictions_csv(dir / "p.csv", kIsicClasses);
  EXPECT_EQ(read.ids, std::vector<std::string>{"a"});
  write_text(dir / "gt.csv", "\xEF\xBB\xBFimage_id,melanoma,seborrheic_keratosis\nx1,1.0,0.0\n");
  EXPECT_EQ(read_isic2017_ground_truth(dir / "gt.csv").labels, std::vector<int>{0});
}

TEST(GroundTruth, Isic2017Csv) {
  testing::TempDir dir;
  write_text(dir / "gt.csv", "image_id,melanoma,seborrheic_keratosis\nx1,1.0,0.0\nx2,0.0,1.0\nx3,0.0,0.0\n");
  const GroundTruth truth = read_isic2017_ground_truth(dir / "gt.csv");
  EXPECT_EQ(truth.classes, kIsicClasses);
  EXPECT_EQ(truth.ids, (std::vector<std::string>{"x1", "x2", "x3"}));
  EXPECT_EQ(truth.labels, (std::vector<int>{0, 1, 2}));
  write_text(dir / "gt.csv", "image_id,melanoma,seborrheic_keratosis\nx1,1.0,1.0\n");
  EXPECT_THROW(read_isic2017_ground_truth(dir / "gt.csv"), Error);
}

TEST(GroundTruth, FromAManifestSplit) {
  Manifest manifest;
  manifest.classes = {"melanoma", "benign"};
  ManifestEntry entry;
  for (const auto& [id, label, split] : std::vector<std::tuple<std::string, int, std::string>>{
           {"a", 0, "test"}, {"b", 1, "train"}, {"c", 1, "test"}}) {
    entry.id = id;
    entry.label_index = label;
    entry.split = split;
    manifest.entries.push_back(entry);
  }
  const GroundTruth truth = ground_truth_from_manifest(manifest, "test");
  EXPECT_EQ(truth.ids, (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(truth.labels, (std::vector<int>{0, 1}));
  EXPECT_THROW(ground_truth_from_manifest(manifest, "val"), Error);
}

TEST(GroundTruth, ReadFromAManifestFile) {
  testing::TempDir dir;
  Manifest manifest;
  manifest.classes = {"melanoma", "benign"};
  ManifestEntry entry;
  entry.content_hash = std::string(64, 'a');
  entry.width = entry.height = 8;
  entry.source = "test";
  for (const auto& [id, label, split] : std::vector<std::tuple<std::string, int, std::string>>{
           {"a", 0, "test"}, {"b", 1, "train"}, {"c", 1, "test"}}) {
    entry.id = id;
    entry.path = id + ".jpg";
    entry.label_index = label;
    entry.label = manifest.classes[label];
    entry.split = split;
    manifest.entries.push_back(entry);
  }
  write_manifest(dir / "manifest.csv", manifest);
  const GroundTruth truth = read_manifest_ground_truth(dir / "manifest.csv", "test");
  EXPECT_EQ(truth.classes, manifest.classes);
  EXPECT_EQ(truth.ids, (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(truth.labels, (std::vector<int>{0, 1}));
  EXPECT_NE(error_of([&] { read_manifest_ground_truth(dir / "manifest.csv", "val"); }).find("manifest.csv"),
            std::string::npos);
}

TEST(MatchLabels, ReordersAndReportsMismatchedIds) {
  Predictions predictions;
  predictions.classes = kIsicClasses;
  predictions.ids = {"c", "a", "b"};
  predictions.member_probabilities = {{{1, 0, 0}, {1, 0, 0}, {1, 0, 0}}};
  GroundTruth truth{kIsicClasses, {"a", "b", "c"}, {0, 1, 2}};
  EXPECT_EQ(match_labels(predictions, truth), (std::vector<int>{2, 0, 1}));

  truth.ids = {"a", "b", "d"};
  const std::string message = error_of([&] { match_labels(predictions, truth); });
  EXPECT_NE(message.find("1 without a prediction (d)"), std::string::npos) << message;
  EXPECT_NE(message.find("1 without ground truth (c)"), std::string::npos) << message;

  truth.ids = {"a", "b", "c"};
  truth.classes = {"melanoma", "benign"};
  EXPECT_THROW(match_labels(predictions, truth), Error);
}

TEST(ScorePredictionsCsv, ScoresAgainstIsicGroundTruthAndWritesOutputs) {
  testing::TempDir dir;
  // Melanoma scores .9 .3 (positives) vs .4 .1 (negatives): 3 of 4 pairs -> AUC .75.
  write_text(dir / "gt.csv",
             "image_id,melanoma,seborrheic_keratosis\nm1,1.0,0.0\nm2,1.0,0.0\ns1,0.0,1.0\nn1,0.0,0.0\n");
  write_text(dir / "p.csv",
             "image_id,melanoma,seborrheic_keratosis\nn1,0.1,0.1\ns1,0.4,0.5\nm2,0.3,0.2\nm1,0.9,0.05\n");
  EvaluationOptions options;
  options.bootstrap.resamples = 50;
  const nlohmann::json report =
      score_predictions_csv(dir / "p.csv", read_isic2017_ground_truth(dir / "gt.csv"), options, dir / "out");
  const auto& melanoma = report["decisions"]["mean_probability"]["one_vs_rest"]["melanoma"];
  EXPECT_DOUBLE_EQ(melanoma["auc"].get<double>(), 0.75);
  EXPECT_EQ(melanoma["tp"], 1);  // only .9 >= .5
  EXPECT_TRUE(fs::exists(dir / "out" / "report.json"));
  EXPECT_TRUE(fs::exists(dir / "out" / "predictions.csv"));
  EXPECT_TRUE(fs::exists(dir / "out" / "roc_melanoma.png"));
  EXPECT_TRUE(fs::exists(dir / "out" / "roc_seborrheic_keratosis.png"));
  EXPECT_EQ(nlohmann::json::parse(read_file(dir / "out" / "report.json")), report);

  write_text(dir / "p.csv", "image_id,melanoma,seborrheic_keratosis\nn1,0.1,0.1\ns1,0.4,0.5\nm2,0.3,0.2\n");
  const std::string message = error_of(
      [&] { score_predictions_csv(dir / "p.csv", read_isic2017_ground_truth(dir / "gt.csv"), options); });
  EXPECT_NE(message.find("p.csv"), std::string::npos) << message;
  EXPECT_NE(message.find("m1"), std::string::npos) << message;
}

// A failure part-way (here the last plot cannot replace the folder in its way)
// leaves none of the outputs, so the folder never looks like a finished run.
TEST(ScorePredictionsCsv, OutputsAppearTogetherOrNotAtAll) {
  testing::TempDir dir;
  write_text(dir / "gt.csv", "image_id,melanoma,seborrheic_keratosis\nm1,1.0,0.0\ns1,0.0,1.0\nn1,0.0,0.0\n");
  write_text(dir / "p.csv", "image_id,melanoma,seborrheic_keratosis\nn1,0.1,0.1\ns1,0.4,0.5\nm1,0.9,0.05\n");
  fs::create_directories(dir / "out" / "roc_seborrheic_keratosis.png");
  EvaluationOptions options;
  options.bootstrap.resamples = 0;
  const std::string message = error_of(
      [&] { score_predictions_csv(dir / "p.csv", read_isic2017_ground_truth(dir / "gt.csv"), options, dir / "out"); });
  EXPECT_NE(message.find("roc_seborrheic_keratosis.png: is a folder"), std::string::npos) << message;
  std::vector<std::string> left;
  for (const auto& entry : fs::directory_iterator(dir / "out")) left.push_back(entry.path().filename().string());
  EXPECT_EQ(left, std::vector<std::string>{"roc_seborrheic_keratosis.png"});
}

}  // namespace
}  // namespace derm
