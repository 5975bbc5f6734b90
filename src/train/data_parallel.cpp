#include "data_parallel.hpp"

namespace derm {

namespace {

// DistributedDataParallel's sizes: a small first bucket starts communication early.
constexpr std::int64_t kFirstBucketBytes = std::int64_t{1} << 20;

}  // namespace

GradientBuckets::GradientBuckets(ProcessGroup& group, std::vector<torch::Tensor> parameters, std::int64_t bucket_bytes)
    : group_(group), parameters_(std::move(parameters)) {
  const std::size_t n = parameters_.size();
  bucket_of_.resize(n);
  offset_of_.resize(n);
  arrived_.assign(n, false);
  earlier_.resize(n);
  std::vector<std::int64_t> sizes;
  std::int64_t bytes = 0;
  for (std::size_t k = n; k-- > 0;) {
    const auto& p = parameters_[k];
    const std::int64_t cap = buckets_.size() <= 1 ? kFirstBucketBytes : bucket_bytes;
    const bool new_bucket = buckets_.empty() || bytes >= cap ||
                            p.scalar_type() != parameters_[buckets_.back().members.front()].scalar_type();
    if (new_bucket) {
      buckets_.emplace_back();
      sizes.push_back(0);
      bytes = 0;
    }
    bucket_of_[k] = buckets_.size() - 1;
    offset_of_[k] = sizes.back();
    buckets_.back().members.push_back(k);
    sizes.back() += p.numel();
    bytes += p.numel() * static_cast<std::int64_t>(p.element_size());
  }
  for (std::size_t b = 0; b < buckets_.size(); ++b) {
    buckets_[b].flat = torch::zeros({sizes[b]}, parameters_[buckets_[b].members.front()].options());
  }
  for (std::size_t k = 0; k < n; ++k) {
    hooks_.push_back(parameters_[k].register_hook([this, k](const torch::Tensor& gradient) { on_gradient(k, gradient); }));
  }
}

GradientBuckets::~GradientBuckets() {
  for (std::size_t k = 0; k < hooks_.size(); ++k) parameters_[k].remove_hook(hooks_[k]);
}

void GradientBuckets::arm() {
  for (std::size_t k = 0; k < parameters_.size(); ++k) {
    earlier_[k] = parameters_[k].grad();
    parameters_[k].mutable_grad() = torch::Tensor();
    arrived_[k] = false;
  }
  for (auto& bucket : buckets_) {
    bucket.ready = 0;
    bucket.launched = false;
  }
  next_launch_ = 0;
  armed_ = true;
}

void GradientBuckets::on_gradient(std::size_t k, const torch::Tensor& gradient) {
  if (!armed_ || arrived_[k]) return;
  torch::NoGradGuard no_grad;
  Bucket& bucket = buckets_[bucket_of_[k]];
  auto slot = bucket.flat.narrow(0, offset_of_[k], parameters_[k].numel()).view(parameters_[k].sizes());
  if (earlier_[k].defined()) {
    slot.copy_(earlier_[k]).add_(gradient);
  } else {
    slot.copy_(gradient);
  }
  arrived_[k] = true;
  ++bucket.ready;
  launch_ready();
}

void GradientBuckets::launch_ready() {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].ready == buckets_[next_launch_].members.size()) {
    Bucket& bucket = buckets_[next_launch_++];
    bucket.pending = group_.all_reduce_sum_async(bucket.flat, "all-reduce of gradients");
    bucket.launched = true;
  }
}

void GradientBuckets::finish() {
  torch::NoGradGuard no_grad;
  // Parameters the backward pass did not reach (e.g. an unused head) bring
  // their earlier gradient, or zero.
  for (std::size_t k = 0; k < parameters_.size(); ++k) {
    if (arrived_[k]) continue;
    Bucket& bucket = buckets_[bucket_of_[k]];
    auto slot = bucket.flat.narrow(0, offset_of_[k], parameters_[k].numel());
    if (earlier_[k].defined()) {
      slot.view(parameters_[k].sizes()).copy_(earlier_[k]);
    } else {
      slot.zero_();
    }
    arrived_[k] = true;
    ++bucket.ready;
  }
  launch_ready();
  for (auto& bucket : buckets_) bucket.pending.wait();
  for (std::size_t k = 0; k < parameters_.size(); ++k) {
    const auto summed = buckets_[bucket_of_[k]].flat.narrow(0, offset_of_[k], parameters_[k].numel())
                            .view(parameters_[k].sizes());
    auto& grad = parameters_[k].mutable_grad();
    if (grad.defined()) {
      grad.copy_(summed);
    } else {
      grad = summed.clone();
    }
    earlier_[k] = torch::Tensor();
  }
  armed_ = false;
}

RunningStatistics::RunningStatistics(ProcessGroup* group, std::vector<torch::Tensor> buffers, int micro_batches_here)
    : group_(group), buffers_(std::move(buffers)), micro_batches_here_(micro_batches_here) {}

void RunningStatistics::before_micro_batch(int k) {
  torch::NoGradGuard no_grad;
  if (k == 0) {
    start_.clear();
    sum_.clear();
    for (const auto& b : buffers_) {
      start_.push_back(b.clone());
      sum_.push_back(b.is_floating_point() ? torch::zeros_like(b) : torch::Tensor());
    }
    return;
  }
  for (std::size_t j = 0; j < buffers_.size(); ++j) buffers_[j].copy_(start_[j]);
}

void RunningStatistics::after_micro_batch(int) {
  torch::NoGradGuard no_grad;
  for (std::size_t j = 0; j < buffers_.size(); ++j) {
    if (sum_[j].defined()) sum_[j].add_(buffers_[j]);
  }
}

void RunningStatistics::finish_step() {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> floating;
  for (std::size_t j = 0; j < buffers_.size(); ++j) {
    if (!sum_[j].defined()) continue;
    if (micro_batches_here_ > 1) buffers_[j].copy_(sum_[j] / micro_batches_here_);
    floating.push_back(buffers_[j]);
  }
  if (!group_ || floating.empty()) return;
  std::vector<torch::Tensor> flat_parts;
  for (const auto& b : floating) flat_parts.push_back(b.reshape(-1));
  auto flat = torch::cat(flat_parts);
  group_->all_reduce_sum(flat, "all-reduce of BatchNorm statistics");
  flat.div_(group_->size());
  std::int64_t offset = 0;
  for (auto& b : floating) {
    b.copy_(flat.narrow(0, offset, b.numel()).view(b.sizes()));
    offset += b.numel();
  }
}

}  // namespace derm
