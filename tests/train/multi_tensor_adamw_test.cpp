#include "multi_tensor_adamw.hpp"

#include <cstdint>
#include <memory>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "derm/core/error.hpp"

namespace derm {
namespace {

using torch::optim::AdamW;
using torch::optim::AdamWOptions;
using torch::optim::AdamWParamState;

// Conv, channels-last conv, BatchNorm and a linear head: every kind of parameter
// derm-train optimises. conv2 has no bias, as Inception's convolutions before
// BatchNorm: that bias's gradient is zero but for rounding, and AdamW would
// turn the rounding's sign, which differs between runs on CUDA, into steps
// of the full learning rate.
struct NetImpl : torch::nn::Module {
  NetImpl() {
    conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 6, 3)));
    conv2 = register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(6, 8, 3).bias(false)));
    bn = register_module("bn", torch::nn::BatchNorm2d(8));
    fc = register_module("fc", torch::nn::Linear(8, 4));
    conv2->weight.set_data(conv2->weight.contiguous(torch::MemoryFormat::ChannelsLast));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    const auto y = torch::relu(bn(conv2(torch::relu(conv1(x)))));
    return fc(y.mean({2, 3}));
  }
  std::vector<torch::Tensor> backbone() {
    std::vector<torch::Tensor> params;
    for (auto* m : std::vector<torch::nn::Module*>{conv1.get(), conv2.get(), bn.get()}) {
      for (const auto& p : m->parameters()) params.push_back(p);
    }
    return params;
  }
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(Net);

struct Batch {
  torch::Tensor x, y;
};

const std::vector<double> kLearningRates = {1e-2, 3e-3, 2e-2, 5e-3, 1e-2, 7e-3};

// The comparisons on the CPU run in float64: the optimisers differ only in the
// order of a few operations per parameter and step (~1e-16 relative each), so
// 1e-12 holds on any CPU; in float32 each would be ~1e-7 and compound.
constexpr double kFloat64Tolerance = 1e-12;

Net make_net(torch::Dtype dtype = torch::kFloat64) {
  torch::manual_seed(7);
  Net net;
  net->to(dtype);
  return net;
}

std::vector<Batch> make_batches(torch::Dtype dtype = torch::kFloat64) {
  torch::manual_seed(11);
  std::vector<Batch> batches;
  for (std::size_t i = 0; i < kLearningRates.size(); ++i) {
    batches.push_back({torch::randn({4, 3, 10, 10}).to(dtype), torch::randint(0, 4, {4})});
  }
  return batches;
}

AdamWOptions options() { return AdamWOptions(1e-2).weight_decay(0.01); }

void set_backbone_frozen(Net& net, bool frozen) {
  for (auto& p : net->backbone()) p.requires_grad_(!frozen);
}

// Steps [first, last) of the schedule; the lr changes every step, as in derm-train.
void train(Net& net, torch::optim::Optimizer& optimizer, const std::vector<Batch>& batches, std::size_t first,
           std::size_t last) {
  for (std::size_t i = first; i < last; ++i) {
    for (auto& group : optimizer.param_groups()) group.options().set_lr(kLearningRates[i]);
    optimizer.zero_grad();
    torch::nn::functional::cross_entropy(net->forward(batches[i].x), batches[i].y).backward();
    optimizer.step();
  }
}

// 0 when the optimiser holds no state for p (it never stepped it).
template <typename Map>
std::int64_t step_of(const Map& state, const torch::Tensor& p) {
  typename Map::key_type key;
  if constexpr (std::is_same_v<typename Map::key_type, std::string>) {
    std::ostringstream s;
    s << p.unsafeGetTensorImpl();
    key = s.str();
  } else {
    key = p.unsafeGetTensorImpl();
  }
  const auto it = state.find(key);
  return it == state.end() ? 0 : static_cast<const AdamWParamState&>(*it->second).step();
}

void expect_same_parameters(Net& actual, Net& expected, double tolerance = kFloat64Tolerance) {
  torch::NoGradGuard no_grad;
  auto expected_params = expected->named_parameters();
  for (const auto& item : actual->named_parameters()) {
    const auto& want = expected_params[item.key()];
    const double scale = want.abs().max().item<double>();
    EXPECT_LE((item.value() - want).abs().max().item<double>(), tolerance * scale) << item.key();
  }
}

// Five steps of each optimiser on `device` in `dtype` (on CUDA MultiTensorAdamW's
// step is PyTorch's fused AdamW kernel) leave the same parameters, within `tolerance`.
void expect_torch_adamw_parameters(const torch::Device& device, torch::Dtype dtype, double tolerance) {
  auto batches = make_batches(dtype);
  for (auto& batch : batches) {
    batch.x = batch.x.to(device);
    batch.y = batch.y.to(device);
  }
  Net net = make_net(dtype), reference = make_net(dtype);
  net->to(device);
  reference->to(device);
  ASSERT_TRUE(net->conv2->weight.is_contiguous(torch::MemoryFormat::ChannelsLast));
  MultiTensorAdamW optimizer(net->parameters(), options());
  AdamW reference_optimizer(reference->parameters(), options());
  train(net, optimizer, batches, 0, 5);
  train(reference, reference_optimizer, batches, 0, 5);
  expect_same_parameters(net, reference, tolerance);
  EXPECT_FALSE(torch::equal(net->fc->weight.cpu(), make_net(dtype)->fc->weight));
  EXPECT_EQ(step_of(optimizer.state(), net->conv2->weight), 5);
}

TEST(MultiTensorAdamW, MatchesTorchAdamW) {
  expect_torch_adamw_parameters(torch::kCPU, torch::kFloat64, kFloat64Tolerance);
}

// Needs a GPU (bench/gpu/device_session.sh).
TEST(MultiTensorAdamW, MatchesTorchAdamWOnCuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  // float32: PyTorch's fused kernel against its per-parameter one, ~1e-7 per operation and step.
  expect_torch_adamw_parameters(torch::kCUDA, torch::kFloat32, 1e-5);
}

TEST(MultiTensorAdamW, HeadOnlyStageLeavesBackboneAndItsStepCountBehind) {
  const auto batches = make_batches();
  const Net initial = make_net();
  Net net = make_net(), reference = make_net();
  MultiTensorAdamW optimizer(net->parameters(), options());
  AdamW reference_optimizer(reference->parameters(), options());
  set_backbone_frozen(net, true);
  set_backbone_frozen(reference, true);
  train(net, optimizer, batches, 0, 2);
  train(reference, reference_optimizer, batches, 0, 2);
  EXPECT_EQ(optimizer.state().size(), net->fc->parameters().size());
  for (const auto& item : net->named_parameters()) {
    if (item.key().rfind("fc.", 0) == 0) continue;
    EXPECT_TRUE(torch::equal(item.value(), initial->named_parameters()[item.key()])) << item.key();
  }
  set_backbone_frozen(net, false);
  set_backbone_frozen(reference, false);
  train(net, optimizer, batches, 2, 5);
  train(reference, reference_optimizer, batches, 2, 5);
  expect_same_parameters(net, reference);
  EXPECT_EQ(step_of(optimizer.state(), net->fc->weight), 5);
  EXPECT_EQ(step_of(optimizer.state(), net->conv1->weight), 3);
  EXPECT_EQ(step_of(reference_optimizer.state(), reference->conv1->weight), 3);
}

TEST(MultiTensorAdamW, ResumesFromSavedStateInEitherOptimizer) {
  const auto batches = make_batches();
  const auto run = [&](Net& net, torch::optim::Optimizer& optimizer, std::size_t last) {
    set_backbone_frozen(net, true);
    train(net, optimizer, batches, 0, 1);
    set_backbone_frozen(net, false);
    train(net, optimizer, batches, 1, last);
  };
  Net uninterrupted = make_net();
  MultiTensorAdamW uninterrupted_optimizer(uninterrupted->parameters(), options());
  run(uninterrupted, uninterrupted_optimizer, kLearningRates.size());

  for (const bool into_torch_adamw : {false, true}) {
    SCOPED_TRACE(into_torch_adamw ? "resumed into torch::optim::AdamW" : "resumed into MultiTensorAdamW");
    Net net = make_net();
    std::stringstream saved;
    {
      MultiTensorAdamW first(net->parameters(), options());
      run(net, first, 3);
      torch::serialize::OutputArchive archive;
      first.save(archive);
      archive.save_to(saved);
    }
    torch::serialize::InputArchive archive;
    archive.load_from(saved);
    std::unique_ptr<torch::optim::Optimizer> resumed;
    if (into_torch_adamw) {
      resumed = std::make_unique<AdamW>(net->parameters(), options());
    } else {
      resumed = std::make_unique<MultiTensorAdamW>(net->parameters(), options());
    }
    resumed->load(archive);
    EXPECT_EQ(step_of(resumed->state(), net->fc->weight), 3);
    EXPECT_EQ(step_of(resumed->state(), net->conv1->weight), 2);
    train(net, *resumed, batches, 3, kLearningRates.size());
    expect_same_parameters(net, uninterrupted);
  }
}

TEST(MultiTensorAdamW, RefusesAmsgrad) {
  Net net = make_net();
  EXPECT_THROW(MultiTensorAdamW(net->parameters(), AdamWOptions().amsgrad(true)), Error);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(net->parameters(), std::make_unique<AdamWOptions>(AdamWOptions().amsgrad(true)));
  EXPECT_THROW(MultiTensorAdamW(std::move(groups)), Error);
}

}  // namespace
}  // namespace derm
