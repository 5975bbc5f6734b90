#pragma once
// bf16 autocast for a scope, on LibTorch 1.13 and 2.x alike (their autocast
// APIs differ).
#include <torch/torch.h>

namespace derm {

// Whether autocast is on for the device's type.
bool autocast_enabled(const torch::Device& device);

class Bf16Autocast {
 public:
  // Does nothing unless enabled; autocasts on the device's type (CUDA or CPU).
  Bf16Autocast(bool enabled, const torch::Device& device);
  ~Bf16Autocast();
  Bf16Autocast(const Bf16Autocast&) = delete;
  Bf16Autocast& operator=(const Bf16Autocast&) = delete;

 private:
  bool enabled_;
  bool cuda_;
};

}  // namespace derm
