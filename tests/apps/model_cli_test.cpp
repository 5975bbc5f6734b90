// derm-model through its command line: float16 conversion (half the bytes, the
// same classifications up to rounding) and refused requests.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_support.hpp"
#include "tool_fixtures.hpp"

namespace derm::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

int model_tool(const std::string& args, std::string* out, std::string* err) {
  return run_command(quoted(tool_path("derm-model")) + " " + args, out, err);
}

// derm-classify's mean probabilities of one image, by class.
json classify_json(const fs::path& model, const fs::path& image) {
  std::string out, err;
  EXPECT_EQ(run_command(quoted(tool_path("derm-classify")) + " --device cpu --threads 1 --json --model " +
                            quoted(model) + " " + quoted(image),
                        &out, &err),
            0)
      << err;
  return json::parse(out)["images"][0]["mean_probability"]["probabilities"];
}

TEST(ModelCli, ConvertsToFloat16WithHalfTheBytesAndTheSameAnswers) {
  TempDir dir;
  const fs::path full = write_small_model(dir / "full.safetensors", {"melanoma", "seborrheic_keratosis", "nevus"});
  std::string out, err;
  ASSERT_EQ(model_tool("convert " + quoted(full) + " " + quoted(dir / "half.safetensors"), &out, &err), 0) << err;
  EXPECT_NE(err.find("float16 weights"), std::string::npos) << err;
  const double ratio = static_cast<double>(fs::file_size(dir / "half.safetensors")) /
                       static_cast<double>(fs::file_size(full));
  EXPECT_NEAR(ratio, 0.5, 0.01);

  ASSERT_EQ(model_tool("info " + quoted(dir / "half.safetensors"), &out, &err), 0) << err;
  EXPECT_EQ(json::parse(out)["provenance"]["weights_stored_as"], "float16");

  const fs::path image = write_rgb(dir / "lesion.png", synthetic_lesion(120, 90, 11));
  const json a = classify_json(full, image);
  const json b = classify_json(dir / "half.safetensors", image);
  ASSERT_EQ(a.size(), 3u);
  for (const auto& [name, p] : a.items()) EXPECT_NEAR(b[name].get<double>(), p.get<double>(), 1e-2) << name;

  // Back to float32: the float16 values, widened.
  ASSERT_EQ(model_tool("convert " + quoted(dir / "half.safetensors") + " " + quoted(dir / "back.safetensors") +
                           " --dtype float32",
                       &out, &err),
            0)
      << err;
  EXPECT_NEAR(static_cast<double>(fs::file_size(dir / "back.safetensors")) / static_cast<double>(fs::file_size(full)),
              1.0, 1e-3);
}

TEST(ModelCli, ConvertRefusesAMissingModelAndAnUnknownType) {
  TempDir dir;
  const fs::path full = write_small_model(dir / "full.safetensors", {"melanoma", "nevus"});
  std::string out, err;
  EXPECT_NE(model_tool("convert " + quoted(dir / "none.safetensors") + " " + quoted(dir / "x.safetensors"), &out, &err),
            0);
  EXPECT_NE(err.find("none.safetensors"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(dir / "x.safetensors"));
  EXPECT_NE(model_tool("convert " + quoted(full) + " " + quoted(dir / "x.safetensors") + " --dtype int8", &out, &err),
            0);
  EXPECT_NE(err.find("--dtype"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(dir / "x.safetensors"));
}

TEST(ModelCli, AnUnknownOrMissingCommandIsABadCommandLine) {
  std::string out, err;
  EXPECT_EQ(model_tool("bogus", &out, &err), 2);
  EXPECT_NE(err.find("not expected: bogus"), std::string::npos) << err;
  EXPECT_EQ(model_tool("", &out, &err), 2);
  EXPECT_NE(err.find("a command is required: info, create or convert"), std::string::npos) << err;
}

TEST(ModelCli, CreateRefusesClassNamesThatCannotBeToldApartAndImpossibleOptions) {
  TempDir dir;
  const std::vector<std::pair<std::string, std::string>> cases{
      {"--input-size 75 --backbone-size 75 --classes melanoma melanoma", "--classes: class 'melanoma' is named twice"},
      {"--input-size 75 --backbone-size 75 --classes '' nevus", "--classes: class 1 has an empty name"},
      {"--input-size 100000", "input_size 100000 is above 4096 (--input-size, --backbone-size, --aux-logits)"},
      {"--input-size 75 --backbone-size 75 --aux-logits", "aux_logits needs a backbone_size of at least 299"},
      {"--resize-policy fit", "--resize-policy: unknown resize policy 'fit'"},
      {"--seed -1", "--seed: must be at least 0, got -1"}};
  for (const auto& [args, message] : cases) {
    std::string out, err;
    EXPECT_EQ(model_tool("create " + quoted(dir / "m.safetensors") + " " + args, &out, &err), 2)
        << args;
    EXPECT_NE(err.find(message), std::string::npos) << args << " -> " << err;
    EXPECT_FALSE(fs::exists(dir / "m.safetensors")) << args;
  }
}

}  // namespace
}  // namespace derm::testing
