#pragma once
// The stem that lets Inception v3 read images larger than its 299x299.
#include <torch/torch.h>

#include "derm/model/antialiased_resize.hpp"

namespace derm {

// Learned resizer (after Talebi & Milanfar 2021): a bilinear (antialiased)
// resize to the backbone's size plus a small convolutional branch read at full
// resolution. The branch's last convolution starts at zero, so at initialisation
// the stem is exactly the bilinear resize and ImageNet features stay valid.
struct StemOptions {
  int64_t output_size = 299;
  int64_t channels = 16;
};

struct LearnedResizerImpl : torch::nn::Module {
  explicit LearnedResizerImpl(const StemOptions& options);
  // In eval mode without gradients, float32 CPU inputs take forward_cpu_inference.
  torch::Tensor forward(const torch::Tensor& x);
  // The same function in fewer passes (derm-classify, derm-eval, derm-serve on the CPU).
  torch::Tensor forward_cpu_inference(const torch::Tensor& x);
  // The skip path alone: the antialiased bilinear resize the stem starts from
  // (on a GPU by the fastest of its forms, derm/antialiased_resize.hpp).
  torch::Tensor resize(const torch::Tensor& x) const { return resize_(x); }
  const AntialiasedResize& resizer() const { return resize_; }

  StemOptions options;
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv_out{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};

 private:
  AntialiasedResize resize_;
};
TORCH_MODULE(LearnedResizer);

}  // namespace derm
