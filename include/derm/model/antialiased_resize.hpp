#pragma once
// PyTorch's antialiased bilinear resize (interpolate: bilinear, antialias,
// align_corners false, to a size) as matrix products, y = R_h x R_w^T with one
// (out x in) matrix per axis. On a GPU both passes, backward included, are
// GEMMs; interpolate's antialiased CUDA kernels are slow, slowest in half
// precision (pytorch/pytorch#82397).
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "derm/core/enum_names.hpp"

namespace derm {

// One axis: row i holds output i's triangle-filter weights over the input,
// the filter widened by the downscale factor, clipped to the input and
// normalised to sum 1 (PyTorch's weights). float32, on the CPU.
torch::Tensor antialiased_resize_matrix(int64_t in_size, int64_t out_size);

// x: N x C x H x W; rows: out_h x H and cols: out_w x W from
// antialiased_resize_matrix, on x's device -> N x C x out_h x out_w, computed
// in x's dtype whatever autocast says (bf16 input: bf16 weights, fp32
// accumulation, as autocast's convolutions; fp32 input: fp32 throughout).
torch::Tensor resize_by_matrices(const torch::Tensor& x, const torch::Tensor& rows, const torch::Tensor& cols);
// The same in channels-last memory, in and out (no layout copies): heights as
// one GEMM per image over all its columns and channels, then widths as one
// small GEMM per output row.
torch::Tensor resize_by_matrices_channels_last(const torch::Tensor& x, const torch::Tensor& rows,
                                               const torch::Tensor& cols);
// As resize_by_matrices_channels_last, but the widths as one wide GEMM over
// every output row of every image, after a transposing copy of the heights'
// result (out_h/H of the input's size) and before one of the output.
torch::Tensor resize_by_matrices_channels_last_wide(const torch::Tensor& x, const torch::Tensor& rows,
                                                    const torch::Tensor& cols);

// One axis of a resize matrix by its non-zero taps: output i reads count[i]
// inputs from first[i] on, with weights[i * width ...].
struct ResizeTaps {
  static ResizeTaps of(const torch::Tensor& matrix);
  int64_t inputs = 0;
  std::vector<int64_t> first, count;
  std::vector<float> weights;
  int64_t width = 0;
};

// The same resize on the CPU, for float32 inputs in channels-last memory
// (N x H x W x C), without a dense matrix product: heights, then widths, each
// output reading only its filter's taps, every pass contiguous over channels
// (and over W x C for the heights). Channels-last out.
torch::Tensor resize_channels_last_by_taps(const torch::Tensor& x, const ResizeTaps& heights, const ResizeTaps& widths);

// The antialiased bilinear resize of N x C x H x W inputs to out x out by the
// fastest of its forms. On the CPU always interpolate (PyTorch's own bits).
// On CUDA, as cudnn.benchmark does for convolutions, the first call for an
// input's shape, dtype, layout and gradient state times each form (forward,
// and backward when a gradient will flow back) and that key keeps the
// fastest; the forms agree to float rounding. A first call made while a CUDA
// graph is being recorded cannot time: it takes the matrices, which an earlier
// call of the same height and width must have made (else a derm::Error).
class AntialiasedResize {
 public:
  enum class Form { interpolate, matrices, matrices_channels_last, matrices_channels_last_wide };
  struct Choice {
    std::string input;  // e.g. "64x16x700x700 BFloat16 channels_last grad cuda:0"
    Form form;
    std::vector<std::pair<Form, double>> timings;  // ms per call of each form tried; empty when not timed
  };

  explicit AntialiasedResize(int64_t output_size) : output_size_(output_size) {}
  torch::Tensor operator()(const torch::Tensor& x) const;
  // On the CPU, for float32 inputs: resize_channels_last_by_taps (channels-last out).
  torch::Tensor by_taps(const torch::Tensor& x) const;
  // The CUDA choices made so far, in the order their inputs first came.
  std::vector<Choice> choices() const { return choices_; }

 private:
  torch::Tensor run(Form form, const torch::Tensor& x) const;
  const std::pair<torch::Tensor, torch::Tensor>& matrices_for(const torch::Tensor& x) const;
  std::string key_of(const torch::Tensor& x) const;
  Choice choose(const torch::Tensor& x, const std::string& input) const;

  int64_t output_size_;
  mutable std::vector<Choice> choices_;  // one per input key, in the order they came
  // The matrices (rows, cols) by "HxW device"; never replaced, as recorded CUDA graphs read them.
  mutable std::map<std::string, std::pair<torch::Tensor, torch::Tensor>> matrices_;
  // Their taps (rows, cols), by the same keys, made on by_taps' first call.
  mutable std::map<std::string, std::pair<ResizeTaps, ResizeTaps>> taps_;
};

template <>
struct EnumNames<AntialiasedResize::Form> {
  using Form = AntialiasedResize::Form;
  static constexpr const char* what = "resize form";
  static constexpr EnumName<Form> names[] = {{Form::interpolate, "interpolate"},
                                             {Form::matrices, "matrices"},
                                             {Form::matrices_channels_last, "matrices_channels_last"},
                                             {Form::matrices_channels_last_wide, "matrices_channels_last_wide"}};
};
// "64x16x700x700 BFloat16 channels_last grad cuda:0: matrices (interpolate 4.100 ms, matrices 1.200 ms, ...)"
std::string describe(const AntialiasedResize::Choice& choice);

}  // namespace derm
