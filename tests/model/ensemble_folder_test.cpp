#include "derm/model/ensemble_folder.hpp"

#include <fstream>

#include <gtest/gtest.h>

#include "derm/core/error.hpp"
#include "derm/core/json_file.hpp"
#include "test_support.hpp"

namespace derm {
namespace {

namespace fs = std::filesystem;

void touch(const fs::path& path) { std::ofstream(path) << "x"; }

TEST(EnsembleFolder, OwnsTheNamesOfItsFiles) {
  const EnsembleFolder folder("/runs/e");
  EXPECT_EQ(folder.listing(), fs::path("/runs/e/ensemble.json"));
  EXPECT_EQ(folder.member_model(3), fs::path("/runs/e/member-3.safetensors"));
  EXPECT_EQ(folder.member_record(3), fs::path("/runs/e/member-3.json"));
  EXPECT_EQ(folder.member_checkpoint(3), fs::path("/runs/e/member-3.checkpoint"));
  EXPECT_EQ(folder.training_log(), fs::path("/runs/e/train-log.jsonl"));
  EXPECT_EQ(folder.summary(), fs::path("/runs/e/summary.json"));
}

TEST(EnsembleFolder, AMemberIsTrainedWhenItsModelAndRecordAreThere) {
  testing::TempDir dir;
  const EnsembleFolder folder(dir.path());
  EXPECT_FALSE(folder.member_trained(1));
  touch(folder.member_model(1));
  EXPECT_FALSE(folder.member_trained(1));
  folder.write_member_record(1, {{"member", 1}});
  EXPECT_TRUE(folder.member_trained(1));
  EXPECT_EQ(folder.read_member_record(1).at("member"), 1);
}

TEST(EnsembleFolder, TheListingNamesEveryMemberAndResolvesToTheirFiles) {
  testing::TempDir dir;
  const EnsembleFolder folder(dir.path());
  folder.write_listing(2, {"melanoma", "nevus"});
  const auto listing = read_json_file(folder.listing());
  EXPECT_EQ(listing.at("members"), (nlohmann::json{"member-1.safetensors", "member-2.safetensors"}));
  EXPECT_EQ(listing.at("classes"), (nlohmann::json{"melanoma", "nevus"}));
  EXPECT_EQ(listing.at("decision"), "majority_vote");
  EXPECT_EQ(resolve_model_paths({dir.path()}),
            (std::vector<fs::path>{folder.member_model(1), folder.member_model(2)}));
}

TEST(ResolveModelPaths, AFolderWithoutListingIsItsModelsUnlessTrainingIsUnfinished) {
  testing::TempDir dir;
  fs::create_directories(dir / "loose");
  touch(dir / "loose" / "b.safetensors");
  touch(dir / "loose" / "a.safetensors");
  touch(dir / "loose" / "notes.txt");
  EXPECT_EQ(resolve_model_paths({dir / "loose"}),
            (std::vector<fs::path>{dir / "loose" / "a.safetensors", dir / "loose" / "b.safetensors"}));

  const EnsembleFolder training(dir / "training");
  fs::create_directories(training.dir());
  touch(training.member_model(1));
  touch(training.training_log());
  try {
    resolve_model_paths({training.dir()});
    FAIL() << "an unfinished ensemble was used";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("without ensemble.json"), std::string::npos) << e.what();
  }
}

TEST(ResolveModelPaths, AModelGivenTwiceOrNoneIsAnOptionError) {
  testing::TempDir dir;
  touch(dir / "m.safetensors");
  try {
    resolve_model_paths({dir / "m.safetensors", dir.path() / "." / "m.safetensors"});
    FAIL() << "a model voted twice";
  } catch (const OptionError& e) {
    EXPECT_EQ(e.option(), "models");
    EXPECT_NE(std::string(e.what()).find("model given twice"), std::string::npos) << e.what();
  }
  try {
    resolve_model_paths({});
    FAIL() << "no model was accepted";
  } catch (const OptionError& e) {
    EXPECT_EQ(e.option(), "models");
  }
}

}  // namespace
}  // namespace derm
