// derm-prep on the real ISIC data (skipped when ../shared/data is absent).
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "derm/data/prep.hpp"
#include "test_support.hpp"

namespace derm {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

TEST(PrepData, Isic2017OfficialCountsAndTheSixIdenticalPairs) {
  DERM_REQUIRE_DATA(data);
  TempDir dir;
  PrepOptions o;
  o.task = "isic2017";
  o.sources = isic2017_sources(data / "isic2017");
  o.out = dir / "isic2017.csv";
  o.threads = 2;
  o.quiet = true;
  const auto result = run_prep(o);
  const Manifest m = read_manifest(o.out);
  std::map<std::string, std::map<std::string, int>> counts;
  for (const auto& e : m.entries) counts[e.split][e.label]++;
  const std::map<std::string, int> train = {{"melanoma", 374}, {"seborrheic_keratosis", 254}, {"nevus", 1372}};
  const std::map<std::string, int> val = {{"melanoma", 30}, {"seborrheic_keratosis", 42}, {"nevus", 78}};
  const std::map<std::string, int> test = {{"melanoma", 117}, {"seborrheic_keratosis", 90}, {"nevus", 393}};
  EXPECT_EQ(counts["train"], train);
  EXPECT_EQ(counts["val"], val);
  EXPECT_EQ(counts["test"], test);
  EXPECT_EQ(m.classes.back(), "nevus");
  EXPECT_EQ(result.summary["excluded_count"], 0);

  std::set<std::set<std::string>> identical, cross_split;
  for (const auto& d : result.summary["duplicates"]) {
    if (d["kind"] != "identical") continue;
    const std::set<std::string> pair = {d["ids"][0].get<std::string>(), d["ids"][1].get<std::string>()};
    identical.insert(pair);
    if (d["leak"].get<bool>()) cross_split.insert(pair);
  }
  EXPECT_EQ(identical.size(), 6u);
  EXPECT_EQ(result.summary["identical_pairs"], 6);
  // The data README lists the three pairs that reach the test split; the files
  // (checked with sha256sum) also hold a training/validation pair.
  EXPECT_EQ(result.summary["identical_leaks"], 4);
  EXPECT_EQ(result.summary["identical_test_leaks"], 3);
  const std::set<std::set<std::string>> expected_leaks = {{"ISIC_0012970", "ISIC_0012127"},
                                                          {"ISIC_0012175", "ISIC_0015982"},
                                                          {"ISIC_0012271", "ISIC_0016018"},
                                                          {"ISIC_0012221", "ISIC_0016002"}};
  EXPECT_EQ(cross_split, expected_leaks);
}

TEST(PrepData, Ham10000GroupedSplitKeepsEachLesionInOneSplit) {
  DERM_REQUIRE_DATA(data);
  TempDir dir;
  PrepOptions o;
  o.task = "ham7";
  o.sources = {{"ham10000", data / "ham10000-224" / "HAM10000_metadata.csv", data / "ham10000-224" / "images", ""}};
  o.split_fractions = {{"train", 0.8}, {"val", 0.1}, {"test", 0.1}};
  o.seed = 1;
  o.out = dir / "ham.csv";
  o.quiet = true;
  run_prep(o);
  const Manifest m = read_manifest(o.out);
  EXPECT_EQ(m.entries.size(), 5984u);
  std::map<std::string, std::set<std::string>> splits_of_lesion;
  std::map<std::string, int> per_split;
  std::map<std::string, int> mel_per_split;
  for (const auto& e : m.entries) {
    ASSERT_FALSE(e.lesion_id.empty());
    splits_of_lesion[e.lesion_id].insert(e.split);
    per_split[e.split]++;
    if (e.label == "mel") mel_per_split[e.split]++;
  }
  for (const auto& [lesion, splits] : splits_of_lesion) EXPECT_EQ(splits.size(), 1u) << lesion;
  EXPECT_NEAR(per_split["train"], 4787, 60);
  EXPECT_NEAR(per_split["test"], 598, 60);
  EXPECT_NEAR(mel_per_split["test"], 49, 6);  // stratified: 10% of 491 melanomas
  EXPECT_EQ(m.classes.back(), "nv");

}

TEST(PrepData, IsicArchiveJsonRecords) {
  DERM_REQUIRE_DATA(data);
  TempDir dir;
  PrepOptions o;
  o.task = "melanoma";
  o.sources = {{"isic-json", data / "isic-fullres-sample" / "images", data / "isic-fullres-sample" / "images", "test"}};
  o.out = dir / "full.csv";
  o.quiet = true;
  run_prep(o);
  const Manifest m = read_manifest(o.out);
  std::map<std::string, int> counts;
  for (const auto& e : m.entries) counts[e.label]++;
  EXPECT_EQ(counts["melanoma"], 24);
  EXPECT_EQ(counts["benign"], 24);
}

}  // namespace
}  // namespace derm
