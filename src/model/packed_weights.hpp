#pragma once
// Convolutions as the CPU inference plans run them, and their weights packed
// once into the layouts oneDNN's kernels read.
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include <dnnl.hpp>
#include <torch/torch.h>

#include "derm/model/basic_conv2d.hpp"

namespace derm {

// A convolution: its folded weights (made only when they are not packed yet)
// and, when set, a ReLU post-op of this negative slope.
struct ConvolutionSpec {
  const void* key = nullptr;  // the module, for PackedWeights
  std::vector<int64_t> weight_shape, stride, padding;
  std::function<std::pair<torch::Tensor, torch::Tensor>()> weight_and_bias;  // float32 OIHW, O
  std::optional<float> negative_slope;
};

// A BasicConv2d with its BatchNorm folded in, and ReLU.
ConvolutionSpec spec_of(BasicConv2dImpl& unit);
// A Conv2d with bias, and a ReLU of this negative slope when set.
ConvolutionSpec spec_of(torch::nn::Conv2dImpl& conv, std::optional<float> negative_slope);

// forward_inference, direct; `src` and `dst` may be format_tag::any.
dnnl::convolution_forward::primitive_desc convolution_primitive(const dnnl::engine& engine, const ConvolutionSpec& spec,
                                                                const dnnl::memory::desc& src,
                                                                const dnnl::memory::desc& dst,
                                                                const dnnl::post_ops& extra_post_ops = {});

// Weights in the layouts convolutions asked for, by module and layout, shared
// by the plans of one network.
class PackedWeights {
 public:
  explicit PackedWeights(dnnl::engine engine) : engine_(std::move(engine)) {}
  // The weights and bias of `spec` in `layout`, reordered now if no plan asked for it before.
  std::pair<dnnl::memory, dnnl::memory> get(const ConvolutionSpec& spec, const dnnl::memory::desc& layout);

 private:
  struct Entry {
    const void* key;
    dnnl::memory weights, bias;
  };
  dnnl::engine engine_;
  std::vector<Entry> entries_;
};

}  // namespace derm
