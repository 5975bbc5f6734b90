// The regression gate of the shipped model: models/reference evaluated on the
// 600 ISIC 2017 test images with the commands of its card (models/README.md)
// must reproduce every figure of models/reference/card.json. The card holds
// each figure rounded to 4 decimals; a figure "moves" when derm-eval's value no
// longer rounds to it.
#include <cmath>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_support.hpp"
#include "tool_fixtures.hpp"

namespace derm::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json read_json(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path.string() + ": cannot open");
  return json::parse(in);
}

// Every number of `card` against the value at the same place in `report`.
void expect_figures(const json& card, const json& report, const std::string& where) {
  if (card.is_object()) {
    for (const auto& [key, value] : card.items()) {
      ASSERT_TRUE(report.contains(key)) << where << "." << key << ": not in derm-eval's report";
      expect_figures(value, report.at(key), where + "." + key);
    }
  } else if (card.is_array()) {
    ASSERT_TRUE(report.is_array() && report.size() == card.size()) << where << ": " << report.dump();
    for (std::size_t i = 0; i < card.size(); ++i) expect_figures(card[i], report[i], where + "[" + std::to_string(i) + "]");
  } else if (card.is_number_integer()) {
    EXPECT_EQ(report.get<long long>(), card.get<long long>()) << where;
  } else if (card.is_number()) {
    EXPECT_LE(std::abs(report.get<double>() - card.get<double>()), 0.5e-4 + 1e-12)
        << where << ": the card says " << card.get<double>() << ", derm-eval now " << report.get<double>();
  } else {
    EXPECT_EQ(report, card) << where;
  }
}

TEST(ReferenceModel, TestSplitEvaluationReproducesTheCard) {
  DERM_REQUIRE_DATA(data);
  const fs::path reference = fs::path(DERM_SOURCE_DIR) / "models" / "reference";
  ASSERT_TRUE(fs::exists(reference / "card.json")) << reference << ": the reference model or its card is missing";
  const json card = read_json(reference / "card.json");
  TempDir dir;
  std::string out, err;

  ASSERT_EQ(run_command(quoted(tool_path("derm-prep")) + " --task isic2017 --isic2017-dir " +
                            quoted(data / "isic2017") + " --absolute-paths --out " + quoted(dir / "isic2017.csv") +
                            " --quiet",
                        &out, &err),
            0)
      << err;
  ASSERT_EQ(run_command(quoted(tool_path("derm-eval")) + " --model " + quoted(reference) + " --manifest " +
                            quoted(dir / "isic2017.csv") +
                            " --split test --threshold-policy youden --val-split val --device cpu --quiet --out " +
                            quoted(dir / "eval"),
                        &out, &err),
            0)
      << err;
  const json report = read_json(dir / "eval" / "report.json");
  EXPECT_EQ(report.at("images"), 600);
  EXPECT_EQ(report.at("untrained"), false);
  ASSERT_TRUE(card.contains("figures") && card.at("figures").contains("decisions")) << "card.json has no figures";
  expect_figures(card.at("figures"), report, "report");
}

// The model every first try meets (scripts/demo.sh): trained, so no UNTRAINED
// warning, with its provenance, and a verdict for each of the two sample images.
TEST(ReferenceModel, ClassifiesTheSampleImagesAsATrainedModel) {
  DERM_REQUIRE_DATA(data);
  const fs::path reference = fs::path(DERM_SOURCE_DIR) / "models" / "reference";
  ASSERT_TRUE(fs::exists(reference / "member-1.safetensors")) << reference << ": the reference model is missing";
  std::string out, err;
  ASSERT_EQ(run_command(quoted(tool_path("derm-model")) + " info " + quoted(reference / "member-1.safetensors"), &out,
                        &err),
            0)
      << err;
  const json info = json::parse(out);
  EXPECT_EQ(info.at("provenance").at("trained"), true);
  EXPECT_EQ(info.at("provenance").at("init"), "scratch");

  const fs::path images = data / "isic-fullres-sample" / "images";
  ASSERT_EQ(run_command(quoted(tool_path("derm-classify")) + " --model " + quoted(reference) + " --json " +
                            quoted(images / "ISIC_0000000.jpg") + " " + quoted(images / "ISIC_0000002.jpg"),
                        &out, &err),
            0)
      << err;
  EXPECT_EQ(err.find("UNTRAINED"), std::string::npos) << err;
  const json result = json::parse(out);
  EXPECT_EQ(result.at("untrained"), false);
  ASSERT_EQ(result.at("images").size(), 2u);
  for (const auto& image : result.at("images")) {
    EXPECT_EQ(image.at("ok"), true);
    double total = 0.0;
    for (const auto& [name, p] : image.at("mean_probability").at("probabilities").items()) total += p.get<double>();
    EXPECT_NEAR(total, 1.0, 1e-5) << image.dump();
  }
}

}  // namespace
}  // namespace derm::testing
