#pragma once
// The learned-resizer stem's inference on the CPU for one image size, as
// CpuInferencePlan runs it: the full-resolution half (conv1, LeakyReLU, conv2,
// LeakyReLU, the resize) in strips of rows, so that the 16-channel features
// stay in cache instead of making three round trips to memory; then the
// image's own resize (the skip path), and conv_out added onto it.
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include <dnnl.hpp>
#include <torch/torch.h>

#include "derm/model/antialiased_resize.hpp"
#include "derm/model/learned_resizer.hpp"

namespace derm {

class PackedWeights;

class CpuStemPlan {
 public:
  CpuStemPlan(LearnedResizerImpl& stem, int64_t height, int64_t width, const dnnl::engine& engine,
              PackedWeights& packed);
  // image: 3 x H x W float32 (any strides) -> the stem's output in `output()`.
  void run(const torch::Tensor& image, dnnl::stream& stream);
  // 1 x 3 x out x out, channels-last (NHWC) memory; valid until the next run.
  const dnnl::memory& output() const { return output_; }
  std::vector<std::string> implementations() const;

 private:
  // The two full-resolution convolutions for strips of `rows` rows.
  struct StripPass {
    int64_t rows = 0;
    dnnl::convolution_forward conv1, conv2;
    std::unordered_map<int, dnnl::memory> conv1_args, conv2_args;
    std::vector<std::string> implementations;  // conv1's, conv2's
  };
  StripPass strip_pass(int64_t rows, LearnedResizerImpl& stem, PackedWeights& packed);

  dnnl::engine engine_;
  int64_t height_, width_, out_, channels_;
  int64_t rows_per_strip_;
  ResizeTaps heights_, widths_;
  std::vector<float> bn_scale_, bn_shift_;
  std::vector<StripPass> passes_;  // full strips, then a shorter last one when height_ is no multiple
  torch::Tensor padded_image_;     // (H + 2) x W x 3: the image with a zero row above and below
  torch::Tensor features_;         // rows_per_strip x W x C: a strip's conv2 output
  torch::Tensor middle_;           // rows_per_strip x W x C: a strip's conv1 output
  torch::Tensor strip_widths_;     // rows_per_strip x out x C: the features' strip resized along its rows
  // The features resized, BatchNorm applied: out x out x C, or with a zero
  // border when conv_out is derm's own loop (C a multiple of 16).
  torch::Tensor small_;
  bool own_conv_out_ = false;
  torch::Tensor conv_out_weights_, conv_out_bias_;  // own: [3][3 x 3][C], [3]
  dnnl::convolution_forward conv_out_;              // otherwise oneDNN's, with a sum post-op
  std::unordered_map<int, dnnl::memory> conv_out_args_;
  std::string conv_out_implementation_;
  dnnl::memory output_;
  torch::Tensor output_tensor_;  // output_'s data: the resized image, then conv_out added
};

}  // namespace derm
