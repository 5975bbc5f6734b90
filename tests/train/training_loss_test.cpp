#include "training_loss.hpp"

#include <gtest/gtest.h>

namespace derm {
namespace {

namespace F = torch::nn::functional;

TEST(MeanCrossEntropy, WithoutWeightsIsPyTorchsMean) {
  torch::manual_seed(3);
  const auto logits = torch::randn({9, 3});
  const auto targets = torch::randint(0, 3, {9}, torch::kInt64);
  const auto expected = F::cross_entropy(logits, targets, F::CrossEntropyFuncOptions().label_smoothing(0.1));
  EXPECT_TRUE(torch::equal(mean_cross_entropy(logits, targets, 0.1, {}), expected));
}

TEST(MeanCrossEntropy, WithWeightsIsPyTorchsWeightedSmoothedMean) {
  torch::manual_seed(4);
  const auto logits = torch::randn({12, 3}, torch::kFloat64);
  const auto targets = torch::tensor({0, 0, 1, 2, 2, 2, 2, 2, 1, 0, 2, 2}, torch::kInt64);
  const auto weights = torch::tensor({2.5, 1.5, 0.4}, torch::kFloat64);
  for (double smoothing : {0.0, 0.1, 0.3}) {
    const auto expected =
        F::cross_entropy(logits, targets, F::CrossEntropyFuncOptions().label_smoothing(smoothing).weight(weights));
    const auto actual = mean_cross_entropy(logits, targets, smoothing, weights);
    EXPECT_NEAR(actual.item<double>(), expected.item<double>(), 1e-12) << "label smoothing " << smoothing;
  }
}

}  // namespace
}  // namespace derm
