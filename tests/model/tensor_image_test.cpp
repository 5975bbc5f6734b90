#include "derm/model/tensor_image.hpp"

#include <gtest/gtest.h>

#include "derm/model/model_metadata.hpp"

namespace derm {
namespace {

// An image under a reddish light: each channel's p-norm mean is what the
// correction makes equal, so the corrected channels' p-norm means are equal.
TEST(ShadesOfGray, MakesTheIlluminantGrey) {
  torch::manual_seed(3);
  const auto scene = torch::rand({2, 3, 20, 30}, torch::kFloat64) * 0.3;
  const auto light = torch::tensor({1.6, 1.0, 0.7}, torch::kFloat64).view({1, 3, 1, 1});
  const auto corrected = shades_of_gray(scene * light, 6.0);
  const auto illuminant = corrected.pow(6.0).mean({2, 3}).pow(1.0 / 6.0);  // 2 x 3
  for (int64_t n = 0; n < 2; ++n) {
    const auto e = illuminant[n];
    EXPECT_LT(((e - e.mean()).abs().max() / e.mean()).item<double>(), 1e-9) << "image " << n;
  }
  // The same scene under another light comes out in the same colours (the
  // brightness is the light's: the correction keeps |e|).
  const auto other = shades_of_gray(scene * torch::tensor({0.8, 1.0, 1.3}, torch::kFloat64).view({1, 3, 1, 1}), 6.0);
  const auto relative = [](const torch::Tensor& x) { return x / x.mean({1, 2, 3}, /*keepdim=*/true); };
  EXPECT_LT((relative(other) - relative(corrected)).abs().max().item<double>(), 1e-9);
  EXPECT_GE(corrected.min().item<double>(), 0.0);
  EXPECT_LE(corrected.max().item<double>(), 1.0);
}

TEST(NormalizeBatch, AppliesTheColourConstancyOfThePreprocessing) {
  const auto images = torch::randint(0, 256, {1, 3, 16, 16}, torch::kUInt8);
  Preprocessing plain;
  Preprocessing corrected = plain;
  corrected.color_constancy = ColorConstancy::shades_of_gray;
  const auto mean = torch::tensor({plain.mean[0], plain.mean[1], plain.mean[2]}).view({1, 3, 1, 1});
  const auto std = torch::tensor({plain.std[0], plain.std[1], plain.std[2]}).view({1, 3, 1, 1});
  const auto x = images.to(torch::kFloat32) / 255.0f;
  EXPECT_TRUE(torch::allclose(normalize_batch(images, plain), (x - mean) / std, 1e-6, 1e-6));
  EXPECT_TRUE(torch::allclose(normalize_batch(images, corrected), (shades_of_gray(x, 6.0) - mean) / std, 1e-6, 1e-6));
}

TEST(ModelMetadata, ColourConstancyIsKeptAndOlderFilesReadAsNone) {
  ModelMetadata m;
  m.classes.assign(1000, "");
  for (int c = 0; c < 1000; ++c) m.classes[static_cast<std::size_t>(c)] = "class_" + std::to_string(c);
  auto json = to_json(m);
  EXPECT_FALSE(json.at("preprocessing").contains("color_constancy"));  // older readers see what they knew
  EXPECT_EQ(model_metadata_from_json(json, "file").preprocessing.color_constancy, ColorConstancy::none);
  m.preprocessing.color_constancy = ColorConstancy::shades_of_gray;
  json = to_json(m);
  EXPECT_EQ(json.at("preprocessing").at("color_constancy"), "shades_of_gray");
  const ModelMetadata back = model_metadata_from_json(json, "file");
  EXPECT_EQ(back.preprocessing.color_constancy, ColorConstancy::shades_of_gray);
  EXPECT_EQ(back.preprocessing.color_constancy_p, 6.0);
  EXPECT_TRUE(back.preprocessing == m.preprocessing);
  json["preprocessing"]["color_constancy"] = "retinex";
  EXPECT_THROW(model_metadata_from_json(json, "file"), Error);
}

}  // namespace
}  // namespace derm
