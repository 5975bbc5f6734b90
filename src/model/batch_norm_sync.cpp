#include "derm/model/batch_norm_sync.hpp"

namespace derm {

namespace {

thread_local const BatchNormSync* installed = nullptr;

}  // namespace

SyncBatchNormScope::SyncBatchNormScope(const BatchNormSync* sync) : previous_(installed) { installed = sync; }
SyncBatchNormScope::~SyncBatchNormScope() { installed = previous_; }

torch::Tensor batch_norm(torch::nn::BatchNorm2d& bn, const torch::Tensor& x) {
  if (!installed || !bn->is_training()) return bn(x);
  const auto& options = bn->options;
  // N x C x H x W; each process's count, mean and (biased) variance per
  // channel, combined as Chan et al.'s parallel variance does.
  const auto xf = x.to(torch::kFloat32);
  const double count = static_cast<double>(x.numel() / x.size(1));
  const auto mean = xf.mean({0, 2, 3});
  const auto var = (xf - mean.view({1, -1, 1, 1})).square().mean({0, 2, 3});
  const auto stats = installed->all_gather(torch::stack({mean, var}));  // P x 2 x C
  const double total = count * static_cast<double>(stats.size(0));     // every process has the same batch
  const auto means = stats.select(1, 0);
  const auto global_mean = means.mean(0);
  const auto global_var = (stats.select(1, 1) + (means - global_mean).square()).mean(0);
  if (options.track_running_stats()) {
    torch::NoGradGuard no_grad;
    const double momentum = options.momentum().value_or(0.1);
    bn->running_mean.mul_(1 - momentum).add_(global_mean.detach().to(bn->running_mean.dtype()), momentum);
    bn->running_var.mul_(1 - momentum)
        .add_(global_var.detach().to(bn->running_var.dtype()) * (total / std::max(1.0, total - 1)), momentum);
    bn->num_batches_tracked.add_(1);
  }
  auto y = (xf - global_mean.view({1, -1, 1, 1})) * (global_var + options.eps()).rsqrt().view({1, -1, 1, 1});
  if (options.affine()) y = y * bn->weight.view({1, -1, 1, 1}) + bn->bias.view({1, -1, 1, 1});
  return y.to(x.scalar_type());
}

}  // namespace derm
