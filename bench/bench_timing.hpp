#pragma once
// What the C++ benchmarks in bench/ share to time work on a device.
#include <algorithm>
#include <cmath>
#include <vector>

#include <torch/cuda.h>
#include <torch/torch.h>

namespace derm::bench {

// Waits for the device's queued work (nothing to wait for on the CPU).
inline void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.has_index() ? device.index() : -1);
}

// Nearest-rank percentile of sorted values.
inline double percentile(const std::vector<double>& sorted, double p) {
  const auto n = sorted.size();
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(n)));
  return sorted[std::min(n - 1, rank == 0 ? 0 : rank - 1)];
}

inline double median(const std::vector<double>& sorted) {
  const auto n = sorted.size();
  return n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
}

}  // namespace derm::bench
