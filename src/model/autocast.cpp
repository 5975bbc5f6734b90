#include "derm/model/autocast.hpp"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#define DERM_TORCH_AUTOCAST_BY_DEVICE (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4))

namespace derm {

bool autocast_enabled(const torch::Device& device) {
#if DERM_TORCH_AUTOCAST_BY_DEVICE
  return at::autocast::is_autocast_enabled(device.is_cuda() ? at::kCUDA : at::kCPU);
#else
  return device.is_cuda() ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}

Bf16Autocast::Bf16Autocast(bool enabled, const torch::Device& device) : enabled_(enabled), cuda_(device.is_cuda()) {
  if (!enabled_) return;
#if DERM_TORCH_AUTOCAST_BY_DEVICE
  const auto type = cuda_ ? at::kCUDA : at::kCPU;
  at::autocast::set_autocast_dtype(type, at::kBFloat16);
  at::autocast::set_autocast_enabled(type, true);
#else
  if (cuda_) {
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    at::autocast::set_enabled(true);
  } else {
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(true);
  }
#endif
}

Bf16Autocast::~Bf16Autocast() {
  if (!enabled_) return;
#if DERM_TORCH_AUTOCAST_BY_DEVICE
  at::autocast::set_autocast_enabled(cuda_ ? at::kCUDA : at::kCPU, false);
#else
  if (cuda_) {
    at::autocast::set_enabled(false);
  } else {
    at::autocast::set_cpu_enabled(false);
  }
#endif
  at::autocast::clear_cache();
}

}  // namespace derm
