#include "derm/model/batch_norm_sync.hpp"

#include <gtest/gtest.h>

namespace derm {
namespace {

// One process holding the whole batch: its gathering is itself.
class AloneSync : public BatchNormSync {
 public:
  torch::Tensor all_gather(const torch::Tensor& local) const override { return local.unsqueeze(0); }
};

// Two processes simulated in one: the other's statistics are fixed (computed
// from its half of the batch), this one's are live.
class HalvesSync : public BatchNormSync {
 public:
  HalvesSync(torch::Tensor other, bool first) : other_(std::move(other)), first_(first) {}
  torch::Tensor all_gather(const torch::Tensor& local) const override {
    return first_ ? torch::stack({local, other_}) : torch::stack({other_, local});
  }

 private:
  torch::Tensor other_;
  bool first_;
};

struct Result {
  torch::Tensor y, x_grad, weight_grad, bias_grad, running_mean, running_var;
};

Result run(torch::nn::BatchNorm2d bn, const torch::Tensor& x_in, const torch::Tensor& upstream,
           const BatchNormSync* sync) {
  auto x = x_in.clone().requires_grad_(true);
  for (auto& p : bn->parameters()) p.mutable_grad() = torch::Tensor();
  torch::Tensor y;
  {
    SyncBatchNormScope scope(sync);
    y = batch_norm(bn, x);
  }
  (y * upstream).sum().backward();
  return {y.detach(), x.grad(), bn->weight.grad(), bn->bias.grad(), bn->running_mean.clone(), bn->running_var.clone()};
}

torch::nn::BatchNorm2d make_bn() {
  torch::manual_seed(1);
  torch::nn::BatchNorm2d bn(torch::nn::BatchNorm2dOptions(3).eps(0.001));
  torch::NoGradGuard no_grad;
  bn->weight.uniform_(0.5, 1.5);
  bn->bias.uniform_(-0.5, 0.5);
  bn->train();
  return bn;
}

// Bounds: float32 BatchNorm of O(1) values computed in two orders (ATen's
// kernel and the plain ops here): a few hundred ulps at most.
constexpr double kTolerance = 2e-5;

TEST(SyncBatchNorm, AloneIsPyTorchsBatchNorm) {
  torch::manual_seed(2);
  const auto x = torch::randn({4, 3, 5, 6}) * 2 + 0.5;
  const auto upstream = torch::randn({4, 3, 5, 6});
  AloneSync alone;
  const Result native = run(make_bn(), x, upstream, nullptr);
  const Result synced = run(make_bn(), x, upstream, &alone);
  EXPECT_TRUE(torch::allclose(synced.y, native.y, 0, kTolerance));
  EXPECT_TRUE(torch::allclose(synced.x_grad, native.x_grad, 0, kTolerance));
  EXPECT_TRUE(torch::allclose(synced.weight_grad, native.weight_grad, 0, kTolerance));
  EXPECT_TRUE(torch::allclose(synced.bias_grad, native.bias_grad, 0, kTolerance));
  EXPECT_TRUE(torch::allclose(synced.running_mean, native.running_mean, 0, kTolerance));
  EXPECT_TRUE(torch::allclose(synced.running_var, native.running_var, 0, kTolerance));
}

// Each half normalised with the whole batch's statistics: the outputs of the
// whole batch, and (the other half's gradient contribution held fixed) the
// same gradient for the half's inputs as the whole batch's.
TEST(SyncBatchNorm, HalvesUseTheWholeBatchsStatistics) {
  torch::manual_seed(3);
  const auto x = torch::randn({4, 3, 5, 6}) * 2 + 0.5;
  const auto upstream = torch::randn({4, 3, 5, 6});
  const Result whole = run(make_bn(), x, upstream, nullptr);
  const auto stats = [](const torch::Tensor& half) {
    const auto mean = half.mean({0, 2, 3});
    return torch::stack({mean, (half - mean.view({1, -1, 1, 1})).square().mean({0, 2, 3})});
  };
  const auto first = x.narrow(0, 0, 2), second = x.narrow(0, 2, 2);
  HalvesSync with_second(stats(second), /*first=*/true);
  const Result half = run(make_bn(), first, upstream.narrow(0, 0, 2), &with_second);
  EXPECT_TRUE(torch::allclose(half.y, whole.y.narrow(0, 0, 2), 0, kTolerance));
  EXPECT_TRUE(torch::allclose(half.running_mean, whole.running_mean, 0, kTolerance));
  EXPECT_TRUE(torch::allclose(half.running_var, whole.running_var, 0, kTolerance));
}

}  // namespace
}  // namespace derm
