#include "derm/model/inception_v3.hpp"

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "derm/model/model_io.hpp"
#include "derm/model/state_dict.hpp"
#include "small_networks.hpp"

namespace derm {
namespace {

std::string shape_of(const torch::Tensor& t) {
  if (t.dim() == 0) return "scalar";
  std::string text;
  for (int64_t d = 0; d < t.dim(); ++d) text += (d ? "x" : "") + std::to_string(t.size(d));
  return text;
}

TEST(InceptionV3, StateDictMatchesTorchvisionNamesShapesAndOrder) {
  std::ifstream fixture(std::string(DERM_SOURCE_DIR) + "/tests/fixtures/torchvision_inception_v3_state_dict.txt");
  ASSERT_TRUE(fixture) << "fixture missing";
  std::vector<std::pair<std::string, std::string>> expected;
  for (std::string line; std::getline(fixture, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string name, shape;
    fields >> name >> shape;
    expected.emplace_back(name, shape);
  }
  ASSERT_EQ(expected.size(), 580u);

  InceptionV3 net(InceptionV3Options{});
  const NamedTensors actual = state_dict(*net);
  ASSERT_EQ(actual.size(), expected.size());
  for (std::size_t i = 0; i < actual.size(); ++i) {
    EXPECT_EQ(actual[i].first, expected[i].first) << "at position " << i;
    EXPECT_EQ(shape_of(actual[i].second), expected[i].second) << actual[i].first;
  }
}

TEST(InceptionV3, WithoutAuxLogitsHasNoAuxTensors) {
  InceptionV3Options options;
  options.aux_logits = false;
  options.num_classes = 3;
  InceptionV3 net(options);
  for (const auto& [name, tensor] : state_dict(*net)) {
    EXPECT_NE(name.rfind("AuxLogits", 0), 0u) << name;
  }
  EXPECT_EQ(net->fc->weight.size(0), 3);
}

TEST(InceptionV3, InitialisationFollowsTorchvision) {
  torch::manual_seed(0);
  InceptionV3 net(InceptionV3Options{});
  const auto& conv = net->Mixed_6e->branch7x7dbl_3->conv->weight;
  EXPECT_NEAR(conv.std().item<double>(), 0.1, 0.005);
  EXPECT_NEAR(net->AuxLogits->fc->weight.std().item<double>(), 0.001, 0.0002);
  EXPECT_TRUE(torch::all(net->Conv2d_1a_3x3->bn->weight == 1).item<bool>());
  EXPECT_TRUE(torch::all(net->Conv2d_1a_3x3->bn->bias == 0).item<bool>());
}

TEST(InceptionV3, ForwardShapesInEvalAndTraining) {
  InceptionV3Options options;
  options.num_classes = 5;
  options.input_size = 75;
  options.backbone_size = 75;
  InceptionV3 net(options);
  net->eval();
  torch::NoGradGuard no_grad;
  EXPECT_EQ(net->forward(torch::randn({2, 3, 75, 75})).sizes(), (std::vector<int64_t>{2, 5}));
  net->train();
  // The auxiliary head's 5x5 convolution needs Mixed_6e at 17x17: 299 px input.
  const auto out = net->forward_with_aux(torch::randn({2, 3, 299, 299}));
  EXPECT_EQ(out.logits.sizes(), (std::vector<int64_t>{2, 5}));
  EXPECT_EQ(out.aux_logits.sizes(), (std::vector<int64_t>{2, 5}));
}

using testing::max_relative_difference;
using testing::randomise_batch_norms;

// In eval mode, with BatchNorms worth folding. The CPU tests fold in float64:
// against the unfolded network, the fold only changes the rounding of ~100
// layers (about 1e-16 each), so 1e-10 holds whatever kernels the CPU runs,
// while float32's 1e-7 per layer already compounds to ~1e-5 (seen: 1.1e-5).
InceptionV3 network_to_fold(std::uint64_t seed, torch::Dtype dtype = torch::kFloat64) {
  auto net = testing::small_network(seed, 75, 75);
  randomise_batch_norms(net);
  net->to(dtype);
  net->eval();
  return net;
}

constexpr double kFoldTolerance = 1e-10;  // float64, see network_to_fold

torch::Tensor input(std::initializer_list<int64_t> shape) { return torch::randn(shape, torch::kFloat64); }

TEST(InceptionV3, FoldedBatchNormGivesTheSameLogitsAndLeavesTheStateDict) {
  auto net = network_to_fold(3);
  torch::NoGradGuard no_grad;
  const auto x = input({2, 3, 75, 75});
  const auto expected = net->forward(x);
  const auto before = state_dict(*net);

  net->fold_batch_norm();
  std::size_t folded = 0;
  for (auto& module : net->modules(false)) {
    if (auto* basic = module->as<BasicConv2dImpl>()) folded += basic->batch_norm_folded() ? 1 : 0;
  }
  EXPECT_EQ(folded, 94u);  // every BasicConv2d of Inception v3 without AuxLogits
  EXPECT_LT(max_relative_difference(net->forward(x), expected), kFoldTolerance);

  const auto after = state_dict(*net);
  ASSERT_EQ(after.size(), before.size());
  for (std::size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].first, before[i].first);
    EXPECT_TRUE(torch::equal(after[i].second, before[i].second)) << after[i].first;
  }
}

// Needs a GPU (bench/gpu/device_session.sh): derm-classify folds on CUDA.
TEST(InceptionV3, FoldedBatchNormGivesTheSameLogitsOnCuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  auto net = network_to_fold(5, torch::kFloat32);
  net->to(torch::kCUDA);
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({2, 3, 75, 75}).to(torch::kCUDA);
  const auto expected = net->forward(x);
  net->fold_batch_norm();
  ASSERT_TRUE(net->Conv2d_1a_3x3->batch_norm_folded());
  // cuDNN may convolve in TF32 (10-bit mantissa) on both sides.
  EXPECT_LT(max_relative_difference(net->forward(x), expected), 5e-3);
}

TEST(InceptionV3, FoldIsUsedInEvalModeAndDroppedByTrainingMode) {
  auto net = network_to_fold(4);
  torch::NoGradGuard no_grad;
  const auto x = input({1, 3, 75, 75});
  const auto folded_logits = (net->fold_batch_norm(), net->forward(x));
  // The fold was taken before this change, so a folded forward does not see it...
  net->Conv2d_1a_3x3->bn->running_mean.add_(3.0);
  EXPECT_LT(max_relative_difference(net->forward(x), folded_logits), kFoldTolerance);
  // ...and once training mode has dropped the fold, BatchNorm runs again and does.
  net->train();
  net->eval();
  EXPECT_FALSE(net->Conv2d_1a_3x3->batch_norm_folded());
  EXPECT_GT(max_relative_difference(net->forward(x), folded_logits), 1e-3);
}

// The blocks whose 1x1 convolutions that read the block's input can merge.
std::vector<const SiblingConvolutions*> sibling_convolutions(const InceptionV3& net) {
  return {&net->Mixed_5b->input_convolutions, &net->Mixed_5c->input_convolutions,
          &net->Mixed_5d->input_convolutions, &net->Mixed_6b->input_convolutions,
          &net->Mixed_6c->input_convolutions, &net->Mixed_6d->input_convolutions,
          &net->Mixed_6e->input_convolutions, &net->Mixed_7a->input_convolutions,
          &net->Mixed_7b->input_convolutions, &net->Mixed_7c->input_convolutions};
}

std::size_t merged_blocks(const InceptionV3& net) {
  std::size_t merged = 0;
  for (const auto* siblings : sibling_convolutions(net)) merged += siblings->merged() ? 1 : 0;
  return merged;
}

TEST(InceptionV3, FoldWithMergedSiblingsGivesTheFoldedLogits) {
  auto net = network_to_fold(6);
  torch::NoGradGuard no_grad;
  // Batch 1 splits the merged output into contiguous parts, batch 3 into strided ones.
  for (const int64_t batch : {1, 3}) {
    const auto x = input({batch, 3, 75, 75});
    net->fold_batch_norm();
    ASSERT_EQ(merged_blocks(net), 0u);
    const auto folded = net->forward(x);

    net->fold_batch_norm(FoldOptions{/*merge_siblings=*/true, /*fused_relu=*/false, /*average_pools=*/false});
    EXPECT_EQ(merged_blocks(net), 10u);
    EXPECT_LT(max_relative_difference(net->forward(x), folded), kFoldTolerance) << "batch " << batch;
    // On the CPU fused_relu falls back to convolution and ReLU.
    net->fold_batch_norm(FoldOptions{/*merge_siblings=*/true, /*fused_relu=*/true, /*average_pools=*/false});
    EXPECT_LT(max_relative_difference(net->forward(x), folded), kFoldTolerance) << "batch " << batch;
  }
}

TEST(InceptionV3, FoldWithAveragePoolsGivesTheFoldedLogits) {
  auto net = network_to_fold(9);
  torch::NoGradGuard no_grad;
  const auto x = input({2, 3, 75, 75});
  net->fold_batch_norm();
  const auto folded = net->forward(x);
  EXPECT_FALSE(net->Mixed_5b->branch_pool->average_pool_folded());

  net->fold_batch_norm(FoldOptions{/*merge_siblings=*/true, /*fused_relu=*/false, /*average_pools=*/true});
  std::size_t pools = 0;
  for (auto& module : net->modules(false)) {
    if (auto* basic = module->as<BasicConv2dImpl>()) pools += basic->average_pool_folded() ? 1 : 0;
  }
  EXPECT_EQ(pools, 9u);  // branch_pool of Mixed_5b-5d, 6b-6e, 7b and 7c
  EXPECT_EQ(net->Mixed_6b->branch_pool->folded().weight.size(3), 3);
  EXPECT_LT(max_relative_difference(net->forward(x), folded), kFoldTolerance);

  net->train();
  net->eval();
  EXPECT_FALSE(net->Mixed_5b->branch_pool->average_pool_folded());
  EXPECT_LT(max_relative_difference(net->forward(x), folded), kFoldTolerance);
}

TEST(InceptionV3, FoldMergeEndsWithTrainingModeOrARefold) {
  auto net = network_to_fold(7);
  torch::NoGradGuard no_grad;
  const auto x = input({1, 3, 75, 75});
  const auto unfolded = net->forward(x);

  net->fold_batch_norm(FoldOptions{/*merge_siblings=*/true, /*fused_relu=*/false, /*average_pools=*/false});
  ASSERT_EQ(merged_blocks(net), 10u);
  net->train();
  net->eval();
  EXPECT_EQ(merged_blocks(net), 0u);
  EXPECT_LT(max_relative_difference(net->forward(x), unfolded), kFoldTolerance);

  // A refold without merging after a change: the merge of the old weights is not used.
  net->fold_batch_norm(FoldOptions{/*merge_siblings=*/true, /*fused_relu=*/false, /*average_pools=*/false});
  net->Mixed_5b->branch5x5_1->bn->running_mean.add_(3.0);
  net->fold_batch_norm();
  EXPECT_EQ(merged_blocks(net), 0u);
  const auto refolded = net->forward(x);
  EXPECT_GT(max_relative_difference(refolded, unfolded), 1e-3);
  net->train();
  net->eval();
  EXPECT_LT(max_relative_difference(net->forward(x), refolded), kFoldTolerance);
}

// Needs a GPU (bench/gpu/device_session.sh): derm-classify folds on CUDA, and
// at::cudnn_convolution_relu is CUDA's.
TEST(InceptionV3, FoldWithEachOptionGivesTheSameLogitsOnCuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  auto net = network_to_fold(8, torch::kFloat32);
  net->to(torch::kCUDA);
  torch::NoGradGuard no_grad;
  for (const int64_t batch : {1, 3}) {
    const auto x = torch::randn({batch, 3, 75, 75}).to(torch::kCUDA);
    net->train();
    net->eval();
    const auto expected = net->forward(x);
    for (const auto& fold : {FoldOptions{true, false, false}, FoldOptions{false, true, false},
                             FoldOptions{false, false, true}, FoldOptions{true, true, true}}) {
      net->fold_batch_norm(fold);
      EXPECT_EQ(merged_blocks(net), fold.merge_siblings ? 10u : 0u);
      EXPECT_EQ(net->Mixed_7c->branch_pool->average_pool_folded(), fold.average_pools);
      // cuDNN may convolve in TF32 (10-bit mantissa) on both sides.
      EXPECT_LT(max_relative_difference(net->forward(x), expected), 5e-3)
          << "batch " << batch << " merge " << fold.merge_siblings << " fused ReLU " << fold.fused_relu << " pools "
          << fold.average_pools;
    }
  }
}

TEST(LearnedResizer, AtInitialisationEqualsBilinearResize) {
  torch::manual_seed(1);
  LearnedResizer stem(StemOptions{80, 8});
  stem->train();  // batch statistics must not matter either: the last conv is zero
  const auto x = torch::randn({2, 3, 190, 190});
  const auto expected = torch::nn::functional::interpolate(
      x, torch::nn::functional::InterpolateFuncOptions()
             .size(std::vector<int64_t>{80, 80})
             .mode(torch::kBilinear)
             .align_corners(false)
             .antialias(true));
  const auto y = stem(x);
  ASSERT_EQ(y.sizes(), expected.sizes());
  // The zero convolution adds exact zeros to the resize, which is interpolate on the CPU.
  EXPECT_TRUE(torch::equal(y, expected));
}

TEST(LearnedResizer, IsTrainable) {
  torch::manual_seed(2);
  LearnedResizer stem(StemOptions{40, 8});
  torch::optim::SGD sgd(stem->parameters(), torch::optim::SGDOptions(0.1));
  const auto x = torch::randn({2, 3, 90, 90});
  const auto target = torch::randn({2, 3, 40, 40});
  const auto loss_before = (stem(x) - target).pow(2).mean();
  sgd.zero_grad();
  loss_before.backward();
  sgd.step();
  EXPECT_GT(stem->conv_out->weight.abs().sum().item<float>(), 0.0f);
  EXPECT_LT((stem(x) - target).pow(2).mean().item<float>(), loss_before.item<float>());
}

// Without gradients, eval-mode float32 convolutions on the CPU run on oneDNN
// even where ATen would take its native kernels (1x1, fewer than 16 images,
// one thread): the same function.
TEST(BasicConv2d, InferenceOnOneThreadIsTheForwardPass) {
  torch::manual_seed(4);
  const int threads = torch::get_num_threads();
  torch::set_num_threads(1);
  for (const int64_t kernel : {1, 3}) {
    for (const int64_t batch : {1, 3}) {
      BasicConv2d layer(torch::nn::Conv2dOptions(48, 32, kernel).padding(kernel / 2).bias(false));
      {
        torch::NoGradGuard no_grad;
        layer->bn->running_mean.normal_(0.0, 0.5);
        layer->bn->running_var.uniform_(0.2, 3.0);
        layer->bn->weight.uniform_(0.5, 2.0);
        layer->bn->bias.normal_(0.0, 0.5);
      }
      layer->eval();
      const auto x = torch::randn({batch, 48, 17, 17});
      torch::Tensor y;
      {
        torch::NoGradGuard no_grad;
        y = layer(x);
      }
      layer->to(torch::kFloat64);
      const auto expected = layer(x.to(torch::kFloat64));
      // Sums of 48 x kernel^2 products (at most 432) in float32: within
      // 432 x 2^-24 = 2.6e-5 of their terms' magnitude, whatever the order.
      EXPECT_LT(max_relative_difference(y.to(torch::kFloat64), expected), 1e-4)
          << kernel << "x" << kernel << ", batch " << batch;
    }
  }
  torch::set_num_threads(threads);
}

// A stem whose every part counts: conv_out non-zero, BatchNorm's statistics
// and affine far from the identity.
LearnedResizer trained_looking_stem(const StemOptions& options) {
  LearnedResizer stem(options);
  torch::NoGradGuard no_grad;
  stem->conv_out->weight.normal_(0.0, 0.2);
  stem->conv_out->bias.normal_(0.0, 0.1);
  stem->bn->running_mean.normal_(0.0, 0.5);
  stem->bn->running_var.uniform_(0.2, 3.0);
  stem->bn->weight.uniform_(0.5, 2.0);
  stem->bn->bias.normal_(0.0, 0.5);
  stem->eval();
  return stem;
}

TEST(LearnedResizer, CpuInferenceIsTheForwardPass) {
  torch::manual_seed(3);
  for (const int64_t batch : {1, 3}) {
    LearnedResizer stem = trained_looking_stem(StemOptions{80, 8});
    const auto x = torch::randn({batch, 3, 190, 170});
    torch::Tensor fast, dispatched;
    {
      torch::NoGradGuard no_grad;
      fast = stem->forward_cpu_inference(x);
      dispatched = stem(x);
    }
    // Without gradients, eval-mode float32 CPU inputs take it.
    EXPECT_TRUE(torch::equal(dispatched, fast)) << "batch " << batch;
    ASSERT_EQ(fast.sizes(), (std::vector<int64_t>{batch, 3, 80, 80}));
    EXPECT_TRUE(fast.is_contiguous());
    // Against forward() in float64: float32 rounds each of the chain's sums
    // (27 + 8 products in the convolutions at full size, at most 5 + 5 taps in
    // the resize, 72 in conv_out) by at most n * 2^-24 of its terms' magnitude,
    // about 7e-6 of the output's largest value here, whatever the kernels' order
    // of summation; 1e-4 leaves room for the terms' cancellation.
    stem->to(torch::kFloat64);
    const auto expected = stem(x.to(torch::kFloat64));
    EXPECT_LT(max_relative_difference(fast.to(torch::kFloat64), expected), 1e-4) << "batch " << batch;
    // And what the test can tell: BatchNorm left out moves it far beyond.
    stem->to(torch::kFloat32);
    torch::NoGradGuard no_grad;
    stem->bn->running_var.fill_(1.0 - stem->bn->options.eps());
    stem->bn->running_mean.zero_();
    stem->bn->weight.fill_(1.0);
    stem->bn->bias.zero_();
    EXPECT_GT(max_relative_difference(stem->forward_cpu_inference(x).to(torch::kFloat64), expected), 1e-2);
  }
}

TEST(InceptionV3, HighResolutionNetworkReadsLargerInput) {
  InceptionV3Options options;
  options.num_classes = 3;
  options.aux_logits = false;
  options.input_size = 160;
  options.backbone_size = 80;
  InceptionV3 net(options);
  ASSERT_TRUE(net->stem);
  net->to(torch::kFloat64);
  net->eval();
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({1, 3, 160, 160}, torch::kFloat64);
  // At initialisation the stem is the resize, so the network equals the
  // backbone run on the resized image.
  options.input_size = 80;
  InceptionV3 plain(options);
  plain->to(torch::kFloat64);
  const auto weights = state_dict(*net);
  std::map<std::string, torch::Tensor> backbone;
  for (const auto& [name, t] : weights) {
    if (name.rfind("stem.", 0) != 0) backbone.emplace(name, t);
  }
  load_state_dict_strict(*plain, backbone, {}, "test");
  plain->eval();
  const auto expected = plain->forward(net->stem->resize(x));
  // float64: the same arithmetic on both sides, whichever kernels run it.
  EXPECT_LT(max_relative_difference(net->forward(x), expected), kFoldTolerance);
}

}  // namespace
}  // namespace derm
