#include "derm/model/model_io.hpp"
#include "derm/model/safetensors.hpp"
#include "derm/model/state_dict.hpp"

#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "derm/core/error.hpp"
#include "test_support.hpp"

namespace derm {
namespace {

namespace fs = std::filesystem;

ModelMetadata small_metadata() {
  ModelMetadata m;
  m.architecture.num_classes = 3;
  m.architecture.aux_logits = false;
  m.architecture.input_size = 75;
  m.architecture.backbone_size = 75;
  m.preprocessing.input_size = 75;
  m.preprocessing.resize_policy = ResizePolicy::center_crop;
  m.classes = {"melanoma", "seborrheic_keratosis", "nevus"};
  m.provenance = {{"trained", false}, {"tool", "test"}};
  return m;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::map<std::string, torch::Tensor> tensors_of(const torch::nn::Module& module) {
  const auto named = state_dict(module);
  std::map<std::string, torch::Tensor> map;
  for (const auto& [name, t] : named) map.emplace(name, t.clone());
  return map;
}

TEST(ModelFile, RoundTripKeepsWeightsMetadataAndOutputs) {
  testing::TempDir dir;
  torch::manual_seed(3);
  Model model = create_model(small_metadata());
  model.network->eval();
  save_model(dir / "m.safetensors", model);

  Model loaded = load_model(dir / "m.safetensors");
  EXPECT_EQ(loaded.metadata.classes, model.metadata.classes);
  EXPECT_EQ(loaded.metadata.preprocessing.resize_policy, ResizePolicy::center_crop);
  EXPECT_FALSE(loaded.metadata.trained());
  EXPECT_EQ(loaded.metadata.provenance.at("tool"), "test");
  EXPECT_EQ(read_model_metadata(dir / "m.safetensors").architecture.num_classes, 3);
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({2, 3, 75, 75});
  EXPECT_TRUE(torch::equal(model.network->forward(x), loaded.network->forward(x)));
}

TEST(ModelFile, Float16StorageHalvesTheFileAndLoadsAsTheRoundedFloat32Weights) {
  testing::TempDir dir;
  torch::manual_seed(4);
  Model model = create_model(small_metadata());
  model.network->eval();
  save_model(dir / "full.safetensors", model);
  save_model(dir / "half.safetensors", model, torch::kFloat16);
  const double ratio = static_cast<double>(fs::file_size(dir / "half.safetensors")) /
                       static_cast<double>(fs::file_size(dir / "full.safetensors"));
  EXPECT_GT(ratio, 0.49);
  EXPECT_LT(ratio, 0.51);

  const auto stored = read_safetensors(dir / "half.safetensors").tensors;
  EXPECT_EQ(stored.at("Conv2d_1a_3x3.conv.weight").scalar_type(), torch::kFloat16);
  EXPECT_EQ(stored.at("Conv2d_1a_3x3.bn.num_batches_tracked").scalar_type(), torch::kInt64);
  Model loaded = load_model(dir / "half.safetensors");
  for (const auto& [name, tensor] : state_dict(*loaded.network)) {
    if (tensor.is_floating_point()) {
      ASSERT_EQ(tensor.scalar_type(), torch::kFloat32) << name;
    }
  }
  const auto original = state_dict(*model.network);
  const auto rounded = state_dict(*loaded.network);
  for (std::size_t k = 0; k < original.size(); ++k) {
    const auto& [name, tensor] = original[k];
    const auto expected = tensor.is_floating_point() ? tensor.to(torch::kFloat16).to(torch::kFloat32) : tensor;
    EXPECT_TRUE(torch::equal(rounded[k].second, expected)) << name;
  }
  // The rounding is real.
  EXPECT_FALSE(torch::equal(original.front().second, rounded.front().second));
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({2, 3, 75, 75});
  const auto p = torch::softmax(model.network->forward(x), 1);
  const auto q = torch::softmax(loaded.network->forward(x), 1);
  EXPECT_LT((p - q).abs().max().item<float>(), 1e-2);
}

TEST(ModelFile, Float16StorageRefusesValuesOutsideItsRange) {
  testing::TempDir dir;
  Model model = create_model(small_metadata());
  {
    torch::NoGradGuard no_grad;
    model.network->Conv2d_2a_3x3->bn->running_var.fill_(1e6);
  }
  const std::string message = error_of([&] { save_model(dir / "half.safetensors", model, torch::kFloat16); });
  EXPECT_NE(message.find("'Conv2d_2a_3x3.bn.running_var'"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(dir / "half.safetensors"));
  EXPECT_THROW(save_model(dir / "b.safetensors", model, torch::kBFloat16), Error);
}

TEST(ModelFile, TruncatedAndForeignFilesAreClearErrors) {
  testing::TempDir dir;
  Model model = create_model(small_metadata());
  save_model(dir / "m.safetensors", model);
  const auto size = fs::file_size(dir / "m.safetensors");

  fs::copy_file(dir / "m.safetensors", dir / "cut.safetensors");
  fs::resize_file(dir / "cut.safetensors", size - 1000);
  EXPECT_NE(error_of([&] { load_model(dir / "cut.safetensors"); }).find("cut.safetensors: truncated"),
            std::string::npos);
  fs::resize_file(dir / "cut.safetensors", 100);
  EXPECT_NE(error_of([&] { load_model(dir / "cut.safetensors"); }).find("cut.safetensors:"), std::string::npos);

  std::ofstream(dir / "text.safetensors") << "hello, I am not a model at all, but I am long enough";
  EXPECT_NE(error_of([&] { load_model(dir / "text.safetensors"); }).find("not a derm model file"),
            std::string::npos);
  EXPECT_NE(error_of([&] { load_model(dir / "none.safetensors"); }).find("none.safetensors: no such model file"),
            std::string::npos);

  // Metadata declaring a network derm does not build: the file and the field are named.
  SafetensorsContent content = read_safetensors(dir / "m.safetensors");
  for (auto& [key, text] : content.metadata) {
    auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!json.is_object() || !json.contains("architecture")) continue;
    json["architecture"]["backbone_size"] = 5000;
    text = json.dump();
  }
  write_safetensors(dir / "huge.safetensors", NamedTensors(content.tensors.begin(), content.tensors.end()),
                    content.metadata);
  EXPECT_NE(error_of([&] { load_model(dir / "huge.safetensors"); }).find("huge.safetensors: backbone_size 5000 is above 4096"),
            std::string::npos);

  // A valid safetensors file without derm metadata is foreign too.
  write_safetensors(dir / "plain.safetensors", {{"x", torch::ones({2})}}, {});
  EXPECT_NE(error_of([&] { load_model(dir / "plain.safetensors"); }).find("not a derm model file"),
            std::string::npos);
}

TEST(StrictLoading, MissingUnknownAndMisshapenTensorsAreNamed) {
  InceptionV3Options options;
  options.num_classes = 3;
  options.aux_logits = false;
  InceptionV3 net(options);
  const auto good = tensors_of(*net);

  auto missing = good;
  missing.erase("Mixed_6b.branch7x7_2.bn.running_var");
  EXPECT_NE(error_of([&] { load_state_dict_strict(*net, missing, {}, "f.pth"); })
                .find("f.pth: missing tensor 'Mixed_6b.branch7x7_2.bn.running_var'"),
            std::string::npos);

  auto unknown = good;
  unknown.emplace("Mixed_9z.conv.weight", torch::zeros({1}));
  EXPECT_NE(error_of([&] { load_state_dict_strict(*net, unknown, {}, "f.pth"); })
                .find("unknown tensor 'Mixed_9z.conv.weight'"),
            std::string::npos);

  auto misshapen = good;
  misshapen["fc.weight"] = torch::zeros({1000, 2048});
  EXPECT_NE(error_of([&] { load_state_dict_strict(*net, misshapen, {}, "f.pth"); })
                .find("tensor 'fc.weight' has shape [1000, 2048], the network expects [3, 2048]"),
            std::string::npos);

  EXPECT_EQ(error_of([&] { load_state_dict_strict(*net, good, {}, "f.pth"); }), "");
}

TEST(StrictLoading, TransferLearningSkipsTheImageNetHeadAndKeepsTheStem) {
  torch::manual_seed(4);
  InceptionV3 imagenet(InceptionV3Options{});  // 1000 classes, aux head, no stem
  auto source = tensors_of(*imagenet);

  InceptionV3Options options;
  options.num_classes = 3;
  options.input_size = 150;
  options.backbone_size = 75;
  InceptionV3 target(options);
  const auto fc_before = target->fc->weight.clone();
  const auto stem_before = target->stem->conv1->weight.clone();

  EXPECT_NE(error_of([&] { load_state_dict_strict(*target, source, {}, "imagenet"); }), "");
  StrictLoadOptions transfer;
  transfer.skip_classifier = true;
  transfer.optional_prefixes = {"stem."};
  load_state_dict_strict(*target, source, transfer, "imagenet");
  EXPECT_TRUE(torch::equal(target->Mixed_7c->branch_pool->conv->weight, source["Mixed_7c.branch_pool.conv.weight"]));
  EXPECT_TRUE(torch::equal(target->AuxLogits->conv1->conv->weight, source["AuxLogits.conv1.conv.weight"]));
  EXPECT_TRUE(torch::equal(target->fc->weight, fc_before));
  EXPECT_TRUE(torch::equal(target->stem->conv1->weight, stem_before));
}

TEST(Safetensors, RoundTripOfTypesAndMetadata) {
  testing::TempDir dir;
  const auto f32 = torch::arange(6, torch::kFloat32).view({2, 3});
  const auto i64 = torch::tensor({int64_t{7}});
  const auto bf16 = torch::ones({4}, torch::kBFloat16);
  write_safetensors(dir / "t.safetensors", {{"a", f32}, {"b", i64}, {"c", bf16}}, {{"k", "v"}});
  const auto content = read_safetensors(dir / "t.safetensors");
  EXPECT_TRUE(torch::equal(content.tensors.at("a"), f32));
  EXPECT_TRUE(torch::equal(content.tensors.at("b"), i64));
  EXPECT_TRUE(torch::equal(content.tensors.at("c"), bf16));
  EXPECT_EQ(content.metadata.at("k"), "v");
  EXPECT_EQ(fs::file_size(dir / "t.safetensors") % 8, std::uintmax_t{(6 * 4 + 8 + 8) % 8});
}

}  // namespace
}  // namespace derm
