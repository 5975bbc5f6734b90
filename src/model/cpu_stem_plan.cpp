#include "cpu_stem_plan.hpp"

#include <algorithm>
#include <cstring>

#include "packed_weights.hpp"

namespace derm {

using dnnl::memory;
using Tag = memory::format_tag;
using DataType = memory::data_type;

namespace {

// Rows of full-resolution features per strip: 32 x 700 x 16 floats (1.4 MB)
// for conv1's output and as much for conv2's stay in cache between them and the resize.
constexpr int64_t kRowsPerStrip = 32;

memory::desc nhwc(int64_t channels, int64_t height, int64_t width) {
  return {{1, channels, height, width}, DataType::f32, Tag::nhwc};
}

memory over(const torch::Tensor& t, const memory::desc& desc, const dnnl::engine& engine) {
  return memory(desc, engine, t.data_ptr());
}

// The stem's own loops, compiled for x86-64-v4 (AVX-512), x86-64-v3 (AVX2,
// FMA) and baseline x86-64, the best the CPU has chosen at load (derm itself
// is built for baseline x86-64).
#if defined(__GNUC__) && defined(__x86_64__)
#define DERM_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define DERM_VECTOR_CLONES
#endif

// One row of W pixels of C channels -> widths.first.size() pixels, each the
// sum of its taps. C = 0: `channels` at run time.
template <int C>
DERM_VECTOR_CLONES void resize_row(const float* __restrict in, float* __restrict out, const ResizeTaps& widths,
                                   int64_t channels) {
  const int64_t c_count = C > 0 ? C : channels;
  const auto outputs = static_cast<int64_t>(widths.first.size());
  for (int64_t o = 0; o < outputs; ++o) {
    float sum[C > 0 ? C : 64] = {};
    const float* taps = widths.weights.data() + o * widths.width;
    const float* from = in + widths.first[o] * c_count;
    for (int64_t t = 0; t < widths.count[o]; ++t) {
      for (int64_t c = 0; c < c_count; ++c) sum[c] += taps[t] * from[t * c_count + c];
    }
    for (int64_t c = 0; c < c_count; ++c) out[o * c_count + c] = sum[c];
  }
}

// target = weight * source, or target += weight * source.
DERM_VECTOR_CLONES void add_weighted(float* __restrict target, const float* __restrict source, float weight,
                                     int64_t size, bool first) {
  if (first) {
    for (int64_t k = 0; k < size; ++k) target[k] = weight * source[k];
  } else {
    for (int64_t k = 0; k < size; ++k) target[k] += weight * source[k];
  }
}

template <int C>
DERM_VECTOR_CLONES void scale_and_shift(float* __restrict row, int64_t pixels, const float* __restrict scale,
                                        const float* __restrict shift, int64_t channels) {
  const int64_t c_count = C > 0 ? C : channels;
  for (int64_t p = 0; p < pixels; ++p) {
    for (int64_t c = 0; c < c_count; ++c) row[p * c_count + c] = row[p * c_count + c] * scale[c] + shift[c];
  }
}

// One image resized strip by strip: rows [first_row, first_row + rows) of its
// H x W x C pixels at `in` are resized along their width into `wide`, then
// added, weighted, into the output rows (out x out x C, `row_stride` floats
// apart from `out` on) whose taps reach them. An output row whose last tap is
// in the strip is complete: then scaled and shifted per channel when `scale`
// is given (BatchNorm).
struct StripResize {
  const float* in;
  int64_t channels;
  float* wide;
  float* out;
  int64_t row_stride;
  const float* scale = nullptr;
  const float* shift = nullptr;

  void resize_row(int64_t r, const ResizeTaps& widths, int64_t width) const {
    const float* row = in + r * width * channels;
    float* target = wide + r * static_cast<int64_t>(widths.first.size()) * channels;
    if (channels == 16) {
      derm::resize_row<16>(row, target, widths, channels);
    } else {
      derm::resize_row<0>(row, target, widths, channels);
    }
  }

  void add_taps(int64_t i, int64_t first_row, int64_t last_row, const ResizeTaps& heights, int64_t out_w) const {
    const int64_t line = out_w * channels;
    float* target = out + i * row_stride;
    const int64_t tap_begin = std::max<int64_t>(0, first_row - heights.first[i]);
    const int64_t tap_end = std::min<int64_t>(heights.count[i], last_row - heights.first[i]);
    for (int64_t t = tap_begin; t < tap_end; ++t) {
      add_weighted(target, wide + (heights.first[i] + t - first_row) * line, heights.weights[i * heights.width + t],
                   line, t == 0);
    }
    if (scale == nullptr || tap_end != heights.count[i]) return;
    if (channels == 16) {
      scale_and_shift<16>(target, out_w, scale, shift, channels);
    } else {
      scale_and_shift<0>(target, out_w, scale, shift, channels);
    }
  }
};

// conv_out (C -> 3, 3x3, padding 1) added onto `image` (out x out x 3), rows
// [row_begin, row_end); `padded`: (out + 2) x (out + 2) x C with a zero
// border, C a multiple of 16; `weights`: [3][3 x 3][C]. oneDNN's kernels are
// made for 16 or more output channels: for these 3 at 299 x 299 on the 2-core
// EPYC, 2.0 ms against this loop's 1.05 ms (1.6 ms with C known only at run time).
using Vector16 = float __attribute__((vector_size(64)));
using Vector8 = float __attribute__((vector_size(32)));
using Vector4 = float __attribute__((vector_size(16)));

// By reference: vectors wider than the baseline ISA's change the ABI when passed by value.
inline float sum_of(const Vector16& v) {
  const Vector8 eight = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) +
                        __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
  const Vector4 four = __builtin_shufflevector(eight, eight, 0, 1, 2, 3) + __builtin_shufflevector(eight, eight, 4, 5, 6, 7);
  return (four[0] + four[1]) + (four[2] + four[3]);
}

inline void load16(Vector16& v, const float* p) { std::memcpy(&v, p, sizeof v); }

template <int C>
DERM_VECTOR_CLONES void add_convolution_out(const float* __restrict padded, const float* __restrict weights,
                                            const float* __restrict bias, float* __restrict image, int64_t out,
                                            int64_t channels, int64_t row_begin, int64_t row_end) {
  const int64_t c_count = C > 0 ? C : channels;
  const int64_t padded_row = (out + 2) * c_count;
  for (int64_t y = row_begin; y < row_end; ++y) {
    for (int64_t x = 0; x < out; ++x) {
      Vector16 sums[3] = {};
      for (int64_t tap = 0; tap < 9; ++tap) {
        const float* pixel = padded + (y + tap / 3) * padded_row + (x + tap % 3) * c_count;
        for (int64_t c = 0; c < c_count; c += 16) {
          Vector16 v, w;
          load16(v, pixel + c);
          for (int64_t o = 0; o < 3; ++o) {
            load16(w, weights + (o * 9 + tap) * c_count + c);
            sums[o] += w * v;
          }
        }
      }
      for (int64_t o = 0; o < 3; ++o) image[(y * out + x) * 3 + o] += bias[o] + sum_of(sums[o]);
    }
  }
}

}  // namespace

CpuStemPlan::StripPass CpuStemPlan::strip_pass(int64_t rows, LearnedResizerImpl& stem, PackedWeights& packed) {
  StripPass pass;
  pass.rows = rows;
  // conv1 over rows + 2 padded-image rows: no padding above and below (the
  // padded image's zero rows, or the neighbouring strips' rows), 1 left and right.
  ConvolutionSpec conv1 = spec_of(*stem.conv1, 0.2F);
  conv1.padding = {0, 1};
  const auto conv1_pd = convolution_primitive(engine_, conv1, nhwc(3, rows + 2, width_),
                                              {{1, channels_, rows, width_}, DataType::f32, Tag::any});
  const ConvolutionSpec conv2 = spec_of(*stem.conv2, 0.2F);
  const auto conv2_pd = convolution_primitive(engine_, conv2, conv1_pd.dst_desc(), nhwc(channels_, rows, width_));
  TORCH_CHECK(conv1_pd.dst_desc().get_size() <= static_cast<size_t>(middle_.nbytes()),
              "CpuStemPlan: conv1 asked for a larger layout than NHWC");
  const auto [w1, b1] = packed.get(conv1, conv1_pd.weights_desc());
  const auto [w2, b2] = packed.get(conv2, conv2_pd.weights_desc());
  const memory middle = over(middle_, conv1_pd.dst_desc(), engine_);
  pass.conv1 = dnnl::convolution_forward(conv1_pd);
  pass.conv1_args = {{DNNL_ARG_SRC, memory(conv1_pd.src_desc(), engine_, DNNL_MEMORY_NONE)},
                     {DNNL_ARG_WEIGHTS, w1},
                     {DNNL_ARG_BIAS, b1},
                     {DNNL_ARG_DST, middle}};
  pass.conv2 = dnnl::convolution_forward(conv2_pd);
  pass.conv2_args = {{DNNL_ARG_SRC, middle},
                     {DNNL_ARG_WEIGHTS, w2},
                     {DNNL_ARG_BIAS, b2},
                     {DNNL_ARG_DST, over(features_, conv2_pd.dst_desc(), engine_)}};
  pass.implementations = {conv1_pd.impl_info_str(), conv2_pd.impl_info_str()};
  return pass;
}

CpuStemPlan::CpuStemPlan(LearnedResizerImpl& stem, int64_t height, int64_t width, const dnnl::engine& engine,
                         PackedWeights& packed)
    : engine_(engine),
      height_(height),
      width_(width),
      out_(stem.options.output_size),
      channels_(stem.options.channels),
      rows_per_strip_(std::min(kRowsPerStrip, height)),
      heights_(ResizeTaps::of(antialiased_resize_matrix(height, stem.options.output_size))),
      widths_(ResizeTaps::of(antialiased_resize_matrix(width, stem.options.output_size))) {
  TORCH_CHECK(channels_ <= 64, "CpuStemPlan: at most 64 stem channels");
  {
    const auto [scale, shift] = batch_norm_scale_and_shift(*stem.bn);
    const auto scale32 = scale.to(torch::kFloat32).contiguous(), shift32 = shift.to(torch::kFloat32).contiguous();
    bn_scale_.assign(scale32.data_ptr<float>(), scale32.data_ptr<float>() + channels_);
    bn_shift_.assign(shift32.data_ptr<float>(), shift32.data_ptr<float>() + channels_);
  }
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32);
  padded_image_ = torch::zeros({height_ + 2, width_, 3}, f32);
  middle_ = torch::empty({rows_per_strip_, width_, channels_}, f32);
  features_ = torch::empty({rows_per_strip_, width_, channels_}, f32);
  strip_widths_ = torch::empty({rows_per_strip_, out_, channels_}, f32);
  own_conv_out_ = channels_ % 16 == 0;
  small_ = own_conv_out_ ? torch::zeros({out_ + 2, out_ + 2, channels_}, f32) : torch::empty({out_, out_, channels_}, f32);
  passes_.push_back(strip_pass(rows_per_strip_, stem, packed));
  if (height_ % rows_per_strip_ != 0) passes_.push_back(strip_pass(height_ % rows_per_strip_, stem, packed));
  output_tensor_ = torch::empty({out_, out_, 3}, f32);
  output_ = over(output_tensor_, nhwc(3, out_, out_), engine_);
  if (own_conv_out_) {
    torch::NoGradGuard no_grad;
    // [3][C][3][3] -> [3][3 x 3][C]
    conv_out_weights_ = stem.conv_out->weight.permute({0, 2, 3, 1}).contiguous();
    conv_out_bias_ = stem.conv_out->bias.contiguous();
    return;
  }
  // Otherwise oneDNN's, onto the resized image in place: a sum post-op.
  dnnl::post_ops sum;
  sum.append_sum(1.0F);
  const ConvolutionSpec conv_out = spec_of(*stem.conv_out, std::nullopt);
  const auto pd = convolution_primitive(engine_, conv_out, nhwc(channels_, out_, out_), nhwc(3, out_, out_), sum);
  const auto [weights, bias] = packed.get(conv_out, pd.weights_desc());
  conv_out_ = dnnl::convolution_forward(pd);
  conv_out_args_ = {{DNNL_ARG_SRC, over(small_, pd.src_desc(), engine_)},
                    {DNNL_ARG_WEIGHTS, weights},
                    {DNNL_ARG_BIAS, bias},
                    {DNNL_ARG_DST, output_}};
  conv_out_implementation_ = pd.impl_info_str();
}

std::vector<std::string> CpuStemPlan::implementations() const {
  std::vector<std::string> names;
  for (const auto& pass : passes_) names.insert(names.end(), pass.implementations.begin(), pass.implementations.end());
  if (!own_conv_out_) names.push_back(conv_out_implementation_);
  return names;
}

void CpuStemPlan::run(const torch::Tensor& image, dnnl::stream& stream) {
  TORCH_CHECK(image.dim() == 3 && image.size(0) == 3 && image.size(1) == height_ && image.size(2) == width_,
              "CpuStemPlan: planned for another image size");
  // 3 x H x W -> rows 1..H of the padded H+2 x W x 3 image.
  padded_image_.narrow(0, 1, height_).copy_(image.permute({1, 2, 0}));
  const float* padded = padded_image_.data_ptr<float>();
  for (int64_t first_row = 0; first_row < height_; first_row += rows_per_strip_) {
    StripPass& pass = first_row + rows_per_strip_ <= height_ ? passes_.front() : passes_.back();
    // Padded rows first_row .. first_row + rows + 1 are image rows first_row - 1 .. first_row + rows.
    pass.conv1_args.at(DNNL_ARG_SRC).set_data_handle(const_cast<float*>(padded + first_row * width_ * 3));
    pass.conv1.execute(stream, pass.conv1_args);
    pass.conv2.execute(stream, pass.conv2_args);
    stream.wait();
    // The features' strip, with BatchNorm.
    const StripResize parts[] = {
        {features_.data_ptr<float>(), channels_, strip_widths_.data_ptr<float>(),
         small_.data_ptr<float>() + (own_conv_out_ ? (out_ + 3) * channels_ : 0),
         (own_conv_out_ ? out_ + 2 : out_) * channels_, bn_scale_.data(),
         bn_shift_.data()}};
    at::parallel_for(0, pass.rows, 1, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) parts[0].resize_row(r, widths_, width_);
    });
    // The output rows reaching into the strip (first[i] does not decrease with i).
    const int64_t last_row = first_row + pass.rows;
    int64_t begin = 0;
    while (begin < out_ && heights_.first[begin] + heights_.count[begin] <= first_row) ++begin;
    int64_t end = begin;
    while (end < out_ && heights_.first[end] < last_row) ++end;
    at::parallel_for(begin, end, 1, [&](int64_t i_begin, int64_t i_end) {
      for (int64_t i = i_begin; i < i_end; ++i) parts[0].add_taps(i, first_row, last_row, heights_, out_);
    });
  }
  // The skip path: the image resized, heights first (whole rows of 3 x W
  // floats), then each output row along its width; conv_out is added onto it.
  at::parallel_for(0, out_, 4, [&](int64_t begin, int64_t end) {
    std::vector<float> line(static_cast<std::size_t>(width_ * 3));
    for (int64_t i = begin; i < end; ++i) {
      for (int64_t t = 0; t < heights_.count[i]; ++t) {
        add_weighted(line.data(), padded + (heights_.first[i] + t + 1) * width_ * 3,
                     heights_.weights[i * heights_.width + t], width_ * 3, t == 0);
      }
      resize_row<3>(line.data(), output_tensor_.data_ptr<float>() + i * out_ * 3, widths_, 3);
    }
  });
  // conv_out, added onto the resized image.
  if (own_conv_out_) {
    at::parallel_for(0, out_, 8, [&](int64_t begin, int64_t end) {
      const auto convolve = channels_ == 16 ? add_convolution_out<16> : add_convolution_out<0>;
      convolve(small_.data_ptr<float>(), conv_out_weights_.data_ptr<float>(), conv_out_bias_.data_ptr<float>(),
               output_tensor_.data_ptr<float>(), out_, channels_, begin, end);
    });
    return;
  }
  conv_out_.execute(stream, conv_out_args_);
  stream.wait();
}

}  // namespace derm
