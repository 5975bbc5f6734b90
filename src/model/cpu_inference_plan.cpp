#include "cpu_inference_plan.hpp"

#include <algorithm>
#include <optional>
#include <unordered_map>
#include <utility>

#include <dnnl.hpp>

#include "derm/model/inception_v3.hpp"
#include "cpu_stem_plan.hpp"
#include "packed_weights.hpp"

namespace derm {

using dnnl::memory;
using Tag = memory::format_tag;
using DataType = memory::data_type;

namespace {

struct Step {
  dnnl::primitive primitive;
  std::unordered_map<int, memory> args;
  std::string implementation;
};

// Builds a list of primitives; the memories it makes for their outputs live in
// one arena, laid out by lifetime once the list is complete (lay_out).
class PlanBuilder {
 public:
  PlanBuilder(dnnl::engine engine, PackedWeights& packed) : engine_(std::move(engine)), packed_(packed) {}

  // Memory the caller points at its own data before each run.
  memory external(const memory::dims& dims, Tag tag) const {
    return memory({dims, DataType::f32, tag}, engine_, DNNL_MEMORY_NONE);
  }

  memory convolution(const memory& x, const ConvolutionSpec& spec) {
    const auto dims = x.get_desc().dims();
    const auto& w = spec.weight_shape;
    const memory::dims out{dims[0], w[0], (dims[2] + 2 * spec.padding[0] - w[2]) / spec.stride[0] + 1,
                           (dims[3] + 2 * spec.padding[1] - w[3]) / spec.stride[1] + 1};
    const auto pd =
        convolution_primitive(engine_, spec, {dims, DataType::f32, Tag::any}, {out, DataType::f32, Tag::any});
    const memory src = conform(x, pd.src_desc());
    const auto [weights, bias] = packed_.get(spec, pd.weights_desc());
    const memory y = buffer(pd.dst_desc());
    add(dnnl::convolution_forward(pd),
        {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_BIAS, bias}, {DNNL_ARG_DST, y}},
        pd.impl_info_str());
    return y;
  }

  // torchvision's pools: max 3x3 stride 2, average 3x3 stride 1 padding 1 with
  // the zeros counted, and the global average before fc.
  memory pool(const memory& x, dnnl::algorithm algorithm, int64_t kernel_h, int64_t kernel_w, int64_t stride,
              int64_t padding) {
    const auto dims = x.get_desc().dims();
    const memory::dims out{dims[0], dims[1], (dims[2] + 2 * padding - kernel_h) / stride + 1,
                           (dims[3] + 2 * padding - kernel_w) / stride + 1};
    const dnnl::pooling_forward::desc desc(dnnl::prop_kind::forward_inference, algorithm, x.get_desc(),
                                           {out, DataType::f32, Tag::any}, {stride, stride}, {kernel_h, kernel_w},
                                           {padding, padding}, {padding, padding});
    const dnnl::pooling_forward::primitive_desc pd(desc, engine_);
    const memory y = buffer(pd.dst_desc());
    add(dnnl::pooling_forward(pd), {{DNNL_ARG_SRC, x}, {DNNL_ARG_DST, y}}, pd.impl_info_str());
    return y;
  }
  memory max_pool_3x3_stride2(const memory& x) { return pool(x, dnnl::algorithm::pooling_max, 3, 3, 2, 0); }
  memory average_pool_3x3(const memory& x) {
    return pool(x, dnnl::algorithm::pooling_avg_include_padding, 3, 3, 1, 1);
  }
  memory global_average_pool(const memory& x) {
    const auto dims = x.get_desc().dims();
    return pool(x, dnnl::algorithm::pooling_avg_exclude_padding, dims[2], dims[3], 1, 0);
  }

  // Along channels, in the layout of the first part.
  memory concat(const std::vector<memory>& parts) {
    std::vector<memory::desc> descs;
    for (const auto& part : parts) descs.push_back(part.get_desc());
    auto dims = descs.front().dims();
    dims[1] = 0;
    for (const auto& desc : descs) dims[1] += desc.dims()[1];
    const std::optional<Tag> tag = tag_of(descs.front());
    const auto pd = tag ? dnnl::concat::primitive_desc({dims, DataType::f32, *tag}, 1, descs, engine_)
                        : dnnl::concat::primitive_desc(1, descs, engine_);
    const memory y = buffer(pd.dst_desc());
    std::unordered_map<int, memory> args{{DNNL_ARG_DST, y}};
    for (std::size_t i = 0; i < parts.size(); ++i) args.emplace(DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i), parts[i]);
    add(dnnl::concat(pd), std::move(args), pd.impl_info_str());
    return y;
  }

  // x in `layout`: x itself, or a reorder's output.
  memory conform(const memory& x, const memory::desc& layout) {
    if (x.get_desc() == layout) return x;
    const memory y = buffer(layout);
    const dnnl::reorder::primitive_desc pd(x, y);
    add(dnnl::reorder(pd), {{DNNL_ARG_FROM, x}, {DNNL_ARG_TO, y}}, pd.impl_info_str());
    return y;
  }
  // Into memory the caller points at its own data before each run.
  void write_to(const memory& x, const memory& out) {
    const dnnl::reorder::primitive_desc pd(x, out);
    add(dnnl::reorder(pd), {{DNNL_ARG_FROM, x}, {DNNL_ARG_TO, out}}, pd.impl_info_str());
  }

  // Places every buffer in one arena, first fit by decreasing size among the
  // buffers whose lifetimes (first write to last read) overlap; returns the arena.
  torch::Tensor lay_out() {
    constexpr int64_t alignment = 64;
    std::vector<std::size_t> order(buffers_.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return buffers_[a].bytes > buffers_[b].bytes; });
    std::vector<std::size_t> placed;
    int64_t total = 0;
    for (const std::size_t i : order) {
      Buffer& buffer = buffers_[i];
      std::vector<std::pair<int64_t, int64_t>> taken;  // [begin, end) of overlapping lifetimes
      for (const std::size_t j : placed) {
        const Buffer& other = buffers_[j];
        if (other.first <= buffer.last && buffer.first <= other.last) {
          taken.emplace_back(other.offset, other.offset + other.bytes);
        }
      }
      std::sort(taken.begin(), taken.end());
      int64_t offset = 0;
      for (const auto& [begin, end] : taken) {
        if (offset + buffer.bytes <= begin) break;
        offset = std::max(offset, (end + alignment - 1) / alignment * alignment);
      }
      buffer.offset = offset;
      total = std::max(total, offset + buffer.bytes);
      placed.push_back(i);
    }
    torch::Tensor arena = torch::empty({std::max<int64_t>(total, 1)}, torch::kUInt8);
    for (auto& buffer : buffers_) buffer.handle.set_data_handle(arena.data_ptr<uint8_t>() + buffer.offset);
    return arena;
  }

  std::vector<Step> steps() { return std::move(steps_); }

 private:
  struct Buffer {
    memory handle;
    int64_t bytes = 0;
    int first = 0, last = 0;
    int64_t offset = 0;
  };

  static std::optional<Tag> tag_of(const memory::desc& desc) {
    for (const Tag tag : {Tag::nhwc, Tag::nChw16c, Tag::nChw8c, Tag::nchw}) {
      if (desc == memory::desc(desc.dims(), DataType::f32, tag)) return tag;
    }
    return std::nullopt;
  }

  memory buffer(const memory::desc& desc) {
    memory made(desc, engine_, DNNL_MEMORY_NONE);
    index_.emplace(made.get(), buffers_.size());
    const int next = static_cast<int>(steps_.size());
    buffers_.push_back({made, static_cast<int64_t>(desc.get_size()), next, next, 0});
    return made;
  }

  void add(dnnl::primitive primitive, std::unordered_map<int, memory> args, std::string implementation) {
    const int step = static_cast<int>(steps_.size());
    for (const auto& [arg, mem] : args) {
      const auto found = index_.find(mem.get());
      if (found != index_.end()) buffers_[found->second].last = std::max(buffers_[found->second].last, step);
    }
    steps_.push_back({std::move(primitive), std::move(args), std::move(implementation)});
  }

  dnnl::engine engine_;
  PackedWeights& packed_;
  std::vector<Step> steps_;
  std::vector<Buffer> buffers_;
  std::unordered_map<dnnl_memory_t, std::size_t> index_;
};

memory inception_a(PlanBuilder& b, const memory& x, InceptionAImpl& block) {
  const memory b1 = b.convolution(x, spec_of(*block.branch1x1));
  const memory b5 = b.convolution(b.convolution(x, spec_of(*block.branch5x5_1)), spec_of(*block.branch5x5_2));
  memory b3 = b.convolution(x, spec_of(*block.branch3x3dbl_1));
  b3 = b.convolution(b.convolution(b3, spec_of(*block.branch3x3dbl_2)), spec_of(*block.branch3x3dbl_3));
  const memory bp = b.convolution(b.average_pool_3x3(x), spec_of(*block.branch_pool));
  return b.concat({b1, b5, b3, bp});
}

memory inception_b(PlanBuilder& b, const memory& x, InceptionBImpl& block) {
  const memory b3 = b.convolution(x, spec_of(*block.branch3x3));
  memory b3dbl = b.convolution(x, spec_of(*block.branch3x3dbl_1));
  b3dbl = b.convolution(b.convolution(b3dbl, spec_of(*block.branch3x3dbl_2)), spec_of(*block.branch3x3dbl_3));
  const memory bp = b.max_pool_3x3_stride2(x);
  return b.concat({b3, b3dbl, bp});
}

memory inception_c(PlanBuilder& b, const memory& x, InceptionCImpl& block) {
  const memory b1 = b.convolution(x, spec_of(*block.branch1x1));
  memory b7 = b.convolution(x, spec_of(*block.branch7x7_1));
  b7 = b.convolution(b.convolution(b7, spec_of(*block.branch7x7_2)), spec_of(*block.branch7x7_3));
  memory b7dbl = b.convolution(x, spec_of(*block.branch7x7dbl_1));
  for (BasicConv2d* unit : {&block.branch7x7dbl_2, &block.branch7x7dbl_3, &block.branch7x7dbl_4, &block.branch7x7dbl_5}) {
    b7dbl = b.convolution(b7dbl, spec_of(**unit));
  }
  const memory bp = b.convolution(b.average_pool_3x3(x), spec_of(*block.branch_pool));
  return b.concat({b1, b7, b7dbl, bp});
}

memory inception_d(PlanBuilder& b, const memory& x, InceptionDImpl& block) {
  const memory b3 = b.convolution(b.convolution(x, spec_of(*block.branch3x3_1)), spec_of(*block.branch3x3_2));
  memory b7x3 = b.convolution(x, spec_of(*block.branch7x7x3_1));
  for (BasicConv2d* unit : {&block.branch7x7x3_2, &block.branch7x7x3_3, &block.branch7x7x3_4}) {
    b7x3 = b.convolution(b7x3, spec_of(**unit));
  }
  const memory bp = b.max_pool_3x3_stride2(x);
  return b.concat({b3, b7x3, bp});
}

memory inception_e(PlanBuilder& b, const memory& x, InceptionEImpl& block) {
  const memory b1 = b.convolution(x, spec_of(*block.branch1x1));
  const memory b3 = b.convolution(x, spec_of(*block.branch3x3_1));
  const memory b3a = b.convolution(b3, spec_of(*block.branch3x3_2a));
  const memory b3b = b.convolution(b3, spec_of(*block.branch3x3_2b));
  const memory b3dbl = b.convolution(b.convolution(x, spec_of(*block.branch3x3dbl_1)), spec_of(*block.branch3x3dbl_2));
  const memory b3dbl_a = b.convolution(b3dbl, spec_of(*block.branch3x3dbl_3a));
  const memory b3dbl_b = b.convolution(b3dbl, spec_of(*block.branch3x3dbl_3b));
  const memory bp = b.convolution(b.average_pool_3x3(x), spec_of(*block.branch_pool));
  return b.concat({b1, b3a, b3b, b3dbl_a, b3dbl_b, bp});
}

// A list of primitives with their arena, run in order on one stream.
struct Program {
  std::vector<Step> steps;
  torch::Tensor arena;

  void run(dnnl::stream& stream) {
    for (auto& step : steps) step.primitive.execute(stream, step.args);
    stream.wait();
  }
};

}  // namespace

struct CpuInferencePlan::State {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::vector<int64_t> input_shape;
  InceptionV3Impl* network = nullptr;
  std::unique_ptr<CpuStemPlan> stem;  // when the network has one
  // The backbone: 1 x 3 x backbone x backbone (NCHW) in, 1 x 2048 out.
  Program backbone;
  memory backbone_input, pooled;
};

CpuInferencePlan::CpuInferencePlan(InceptionV3Impl& network, int64_t height, int64_t width, PackedWeights& packed)
    : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.input_shape = {1, 3, height, width};
  s.network = &network;
  if (network.stem) {
    s.stem = std::make_unique<CpuStemPlan>(*network.stem, height, width, s.engine, packed);
    height = width = network.stem->options.output_size;
  }
  PlanBuilder b(s.engine, packed);
  s.backbone_input = b.external({1, 3, height, width}, s.stem ? Tag::nhwc : Tag::nchw);
  memory x = b.convolution(s.backbone_input, spec_of(*network.Conv2d_1a_3x3));
  x = b.convolution(x, spec_of(*network.Conv2d_2a_3x3));
  x = b.convolution(x, spec_of(*network.Conv2d_2b_3x3));
  x = b.max_pool_3x3_stride2(x);
  x = b.convolution(x, spec_of(*network.Conv2d_3b_1x1));
  x = b.convolution(x, spec_of(*network.Conv2d_4a_3x3));
  x = b.max_pool_3x3_stride2(x);
  for (InceptionA* block : {&network.Mixed_5b, &network.Mixed_5c, &network.Mixed_5d}) x = inception_a(b, x, **block);
  x = inception_b(b, x, *network.Mixed_6a);
  for (InceptionC* block : {&network.Mixed_6b, &network.Mixed_6c, &network.Mixed_6d, &network.Mixed_6e}) {
    x = inception_c(b, x, **block);
  }
  x = inception_d(b, x, *network.Mixed_7a);
  x = inception_e(b, x, *network.Mixed_7b);
  x = inception_e(b, x, *network.Mixed_7c);
  x = b.global_average_pool(x);
  s.pooled = b.external({1, x.get_desc().dims()[1], 1, 1}, Tag::nchw);
  b.write_to(x, s.pooled);
  s.backbone.arena = b.lay_out();
  s.backbone.steps = b.steps();
}

CpuInferencePlan::~CpuInferencePlan() = default;

const std::vector<int64_t>& CpuInferencePlan::input_shape() const { return state_->input_shape; }

std::vector<std::string> CpuInferencePlan::implementations() const {
  std::vector<std::string> names;
  if (state_->stem) names = state_->stem->implementations();
  for (const auto& step : state_->backbone.steps) names.push_back(step.implementation);
  return names;
}

int64_t CpuInferencePlan::arena_bytes() const { return state_->backbone.arena.numel(); }

torch::Tensor CpuInferencePlan::features(const torch::Tensor& x) {
  State& s = *state_;
  TORCH_CHECK(x.dim() == 4 && x.size(1) == 3 && x.size(2) == s.input_shape[2] && x.size(3) == s.input_shape[3] &&
                  x.scalar_type() == torch::kFloat32 && x.is_cpu(),
              "CpuInferencePlan: planned for another input");
  torch::Tensor pooled = torch::empty({x.size(0), s.pooled.get_desc().dims()[1]}, x.options());
  for (int64_t i = 0; i < x.size(0); ++i) {
    torch::Tensor image;
    if (s.stem) {
      s.stem->run(x[i], s.stream);
      s.backbone_input.set_data_handle(s.stem->output().get_data_handle());
    } else {
      image = x.narrow(0, i, 1).contiguous();
      s.backbone_input.set_data_handle(image.data_ptr());
    }
    s.pooled.set_data_handle(pooled[i].data_ptr());
    s.backbone.run(s.stream);
  }
  return pooled;
}

CpuInferencePlans::CpuInferencePlans() : packed_(std::make_unique<PackedWeights>(dnnl::engine(dnnl::engine::kind::cpu, 0))) {}
CpuInferencePlans::~CpuInferencePlans() = default;

namespace {

// The data and version of each tensor: a change of either (an in-place update,
// a load, a move to another device or dtype) makes it differ.
std::vector<std::pair<const void*, uint32_t>> state_of(const std::vector<torch::Tensor>& tensors) {
  std::vector<std::pair<const void*, uint32_t>> state;
  state.reserve(tensors.size());
  for (const auto& tensor : tensors) state.emplace_back(tensor.data_ptr(), tensor._version());
  return state;
}

std::vector<int64_t> plan_key(int64_t height, int64_t width) { return {height, width, torch::get_num_threads()}; }

constexpr std::size_t max_plans = 3;

}  // namespace

CpuInferencePlan& CpuInferencePlans::plan_for(InceptionV3Impl& network, int64_t height, int64_t width) {
  if (watched_.empty()) {
    watched_ = network.parameters();
    const auto buffers = network.buffers();
    watched_.insert(watched_.end(), buffers.begin(), buffers.end());
  }
  auto state = state_of(watched_);
  if (state != watched_state_) {
    plans_.clear();
    packed_ = std::make_unique<PackedWeights>(dnnl::engine(dnnl::engine::kind::cpu, 0));
    watched_state_ = std::move(state);
  }
  const auto key = plan_key(height, width);
  for (auto& [made_for, plan] : plans_) {
    if (made_for == key) return *plan;
  }
  if (plans_.size() == max_plans) plans_.erase(plans_.begin());
  plans_.emplace_back(key, std::make_unique<CpuInferencePlan>(network, height, width, *packed_));
  return *plans_.back().second;
}

torch::Tensor CpuInferencePlans::features(InceptionV3Impl& network, const torch::Tensor& x) {
  std::lock_guard<std::mutex> lock(mutex_);
  return plan_for(network, x.size(2), x.size(3)).features(x);
}

void CpuInferencePlans::prepare(InceptionV3Impl& network, int64_t height, int64_t width) {
  std::lock_guard<std::mutex> lock(mutex_);
  c10::InferenceMode inference_mode;
  plan_for(network, height, width).features(torch::zeros({1, 3, height, width}));
}

const CpuInferencePlan* CpuInferencePlans::find(int64_t height, int64_t width) const {
  const auto key = plan_key(height, width);
  for (const auto& [made_for, plan] : plans_) {
    if (made_for == key) return plan.get();
  }
  return nullptr;
}

}  // namespace derm
