#include "packed_weights.hpp"

namespace derm {

using dnnl::memory;
using Tag = memory::format_tag;
using DataType = memory::data_type;

namespace {

memory::dims dims_of(at::IntArrayRef sizes) { return memory::dims(sizes.begin(), sizes.end()); }

}  // namespace

ConvolutionSpec spec_of(BasicConv2dImpl& unit) {
  ConvolutionSpec spec;
  spec.key = &unit;
  spec.weight_shape = unit.conv->weight.sizes().vec();
  spec.stride = std::vector<int64_t>(unit.conv->options.stride()->begin(), unit.conv->options.stride()->end());
  const auto& padding = explicit_padding(unit.conv->options);
  spec.padding = std::vector<int64_t>(padding->begin(), padding->end());
  spec.weight_and_bias = [&unit] {
    const FoldedConvolution folded = unit.batch_norm_fold();
    return std::make_pair(folded.weight.contiguous(), folded.bias.contiguous());
  };
  spec.negative_slope = 0.0F;
  return spec;
}

ConvolutionSpec spec_of(torch::nn::Conv2dImpl& conv, std::optional<float> negative_slope) {
  ConvolutionSpec spec;
  spec.key = &conv;
  spec.weight_shape = conv.weight.sizes().vec();
  spec.stride = std::vector<int64_t>(conv.options.stride()->begin(), conv.options.stride()->end());
  const auto& padding = explicit_padding(conv.options);
  spec.padding = std::vector<int64_t>(padding->begin(), padding->end());
  spec.weight_and_bias = [&conv] { return std::make_pair(conv.weight.contiguous(), conv.bias.contiguous()); };
  spec.negative_slope = negative_slope;
  return spec;
}

dnnl::convolution_forward::primitive_desc convolution_primitive(const dnnl::engine& engine, const ConvolutionSpec& spec,
                                                                const memory::desc& src, const memory::desc& dst,
                                                                const dnnl::post_ops& extra_post_ops) {
  const auto& w = spec.weight_shape;
  const dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                             src, {dims_of(w), DataType::f32, Tag::any}, {{w[0]}, DataType::f32, Tag::x},
                                             dst, dims_of(spec.stride), dims_of(spec.padding), dims_of(spec.padding));
  dnnl::post_ops ops = extra_post_ops;
  if (spec.negative_slope) ops.append_eltwise(1.0F, dnnl::algorithm::eltwise_relu, *spec.negative_slope, 0.0F);
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  return {desc, attr, engine};
}

std::pair<memory, memory> PackedWeights::get(const ConvolutionSpec& spec, const memory::desc& layout) {
  for (const auto& entry : entries_) {
    if (entry.key == spec.key && entry.weights.get_desc() == layout) return {entry.weights, entry.bias};
  }
  const auto [weight, bias] = spec.weight_and_bias();
  TORCH_CHECK(weight.scalar_type() == torch::kFloat32 && weight.is_cpu(), "CpuInferencePlan: float32 CPU weights only");
  memory plain({dims_of(weight.sizes()), DataType::f32, Tag::oihw}, engine_, weight.data_ptr());
  memory packed(layout, engine_);
  dnnl::stream stream(engine_);
  dnnl::reorder(plain, packed).execute(stream, plain, packed);
  stream.wait();
  memory packed_bias({{bias.size(0)}, DataType::f32, Tag::x}, engine_);
  std::copy_n(bias.data_ptr<float>(), bias.size(0), static_cast<float*>(packed_bias.get_data_handle()));
  entries_.push_back({spec.key, packed, packed_bias});
  return {packed, packed_bias};
}

}  // namespace derm
