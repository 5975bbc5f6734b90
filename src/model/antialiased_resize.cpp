#include "derm/model/antialiased_resize.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include <ATen/Parallel.h>
#include <torch/cuda.h>

#include "cuda_recording.hpp"
#include "derm/core/error.hpp"

namespace derm {

namespace F = torch::nn::functional;

torch::Tensor antialiased_resize_matrix(int64_t in_size, int64_t out_size) {
  TORCH_CHECK(in_size > 0 && out_size > 0, "antialiased_resize_matrix: sizes must be positive");
  // PyTorch's _compute_indices_min_size_weights_aa with the bilinear filter
  // (interp_size 2), in its float arithmetic, so that the weights are its own:
  // support and filter widen by the scale when downsampling.
  const float scale = static_cast<float>(in_size) / static_cast<float>(out_size);
  const float support = scale >= 1.0f ? scale : 1.0f;
  const float inverse_scale = scale >= 1.0f ? 1.0f / scale : 1.0f;
  auto matrix = torch::zeros({out_size, in_size}, torch::kFloat32);
  auto m = matrix.accessor<float, 2>();
  for (int64_t i = 0; i < out_size; ++i) {
    const auto center = static_cast<float>(scale * (static_cast<double>(i) + 0.5));
    const int64_t first = std::max<int64_t>(static_cast<int64_t>(center - support + 0.5), 0);
    const int64_t end = std::min<int64_t>(static_cast<int64_t>(center + support + 0.5), in_size);
    float total = 0.0f;
    for (int64_t j = first; j < end; ++j) {
      const auto distance = static_cast<float>((static_cast<float>(j) - center + 0.5) * inverse_scale);
      m[i][j] = std::max(0.0f, 1.0f - std::abs(distance));
      total += m[i][j];
    }
    for (int64_t j = first; j < end && total != 0.0f; ++j) m[i][j] /= total;
  }
  return matrix;
}

torch::Tensor resize_by_matrices(const torch::Tensor& x, const torch::Tensor& rows, const torch::Tensor& cols) {
  // In x's own precision, as interpolate: autocast would round an fp32 image
  // (and the weights) to bf16.
  const c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
  // N x C x H x W -> N x C x H x out_w: one GEMM over all rows of all images
  const auto widths_done = torch::matmul(x.contiguous(), cols.to(x.scalar_type()).t());
  // N x C x out_w x H -> N x C x out_w x out_h, transposed back
  return torch::matmul(widths_done.transpose(2, 3), rows.to(x.scalar_type()).t()).transpose(2, 3).contiguous();
}

namespace {

// The heights pass of both channels-last forms (autocast excluded by the
// caller): (out_h x H) @ (N x H x W*C) -> N*out_h x W x C, one GEMM per image.
torch::Tensor heights_by_matrix_channels_last(const torch::Tensor& x, const torch::Tensor& rows) {
  const int64_t n = x.size(0), channels = x.size(1), height = x.size(2), width = x.size(3);
  // N x H x W x C in memory (a view when x is channels-last)
  const auto nhwc = x.permute({0, 2, 3, 1}).contiguous();
  return torch::matmul(rows.to(x.scalar_type()), nhwc.view({n, height, width * channels}))
      .view({n * rows.size(0), width, channels});
}

}  // namespace

torch::Tensor resize_by_matrices_channels_last(const torch::Tensor& x, const torch::Tensor& rows,
                                               const torch::Tensor& cols) {
  const c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
  const auto heights_done = heights_by_matrix_channels_last(x, rows);
  // (out_w x W) @ (N*out_h x W x C) -> N*out_h x out_w x C
  const auto both_done = torch::matmul(cols.to(x.scalar_type()), heights_done);
  // N x out_h x out_w x C in memory: channels-last N x C x out_h x out_w
  return both_done.view({x.size(0), rows.size(0), cols.size(0), x.size(1)}).permute({0, 3, 1, 2});
}

torch::Tensor resize_by_matrices_channels_last_wide(const torch::Tensor& x, const torch::Tensor& rows,
                                                    const torch::Tensor& cols) {
  const c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
  const int64_t n = x.size(0), channels = x.size(1), width = x.size(3);
  const int64_t out_h = rows.size(0), out_w = cols.size(0);
  // W x N*out_h x C in memory
  const auto widths_first = heights_by_matrix_channels_last(x, rows).transpose(0, 1).contiguous();
  // (out_w x W) @ (W x N*out_h*C) -> out_w x N*out_h*C
  const auto both_done = torch::mm(cols.to(x.scalar_type()), widths_first.view({width, n * out_h * channels}));
  // out_w x N x out_h x C -> channels-last N x C x out_h x out_w
  return both_done.view({out_w, n, out_h, channels}).permute({1, 3, 2, 0}).contiguous(torch::MemoryFormat::ChannelsLast);
}

ResizeTaps ResizeTaps::of(const torch::Tensor& matrix) {
  const auto m = matrix.to(torch::kFloat32).contiguous();
  const auto a = m.accessor<float, 2>();
  const int64_t outputs = m.size(0);
  ResizeTaps taps;
  taps.inputs = m.size(1);
  for (int64_t i = 0; i < outputs; ++i) {
    int64_t first = 0, last = -1;
    for (int64_t j = 0; j < taps.inputs; ++j) {
      if (a[i][j] == 0.0f) continue;
      if (last < 0) first = j;
      last = j;
    }
    taps.first.push_back(first);
    taps.count.push_back(last - first + 1);
    taps.width = std::max(taps.width, last - first + 1);
  }
  taps.weights.assign(static_cast<std::size_t>(outputs * taps.width), 0.0f);
  for (int64_t i = 0; i < outputs; ++i) {
    for (int64_t t = 0; t < taps.count[i]; ++t) taps.weights[i * taps.width + t] = a[i][taps.first[i] + t];
  }
  return taps;
}

torch::Tensor resize_channels_last_by_taps(const torch::Tensor& x, const ResizeTaps& heights, const ResizeTaps& widths) {
  TORCH_CHECK(x.dim() == 4 && x.is_cpu() && x.scalar_type() == torch::kFloat32,
              "resize_channels_last_by_taps: needs a float32 N x C x H x W tensor on the CPU");
  TORCH_CHECK(heights.inputs == x.size(2) && widths.inputs == x.size(3), "resize_channels_last_by_taps: taps of ",
              heights.inputs, " x ", widths.inputs, " inputs for an input of ", x.sizes());
  const auto in = x.contiguous(torch::MemoryFormat::ChannelsLast);
  const int64_t n = x.size(0), channels = x.size(1), height = x.size(2), width = x.size(3);
  const auto out_h = static_cast<int64_t>(heights.first.size()), out_w = static_cast<int64_t>(widths.first.size());
  auto out = torch::empty({n, channels, out_h, out_w}, x.options().memory_format(torch::MemoryFormat::ChannelsLast));
  const float* source = in.data_ptr<float>();
  float* target = out.data_ptr<float>();
  const int64_t line_size = width * channels;
  // One output row of one image per item: its heights pass into a line of
  // W x C, then the line's widths pass into the output row.
  at::parallel_for(0, n * out_h, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> line_buffer(static_cast<std::size_t>(line_size));
    float* __restrict line = line_buffer.data();
    for (int64_t item = begin; item < end; ++item) {
      const int64_t image = item / out_h, i = item % out_h;
      std::fill(line, line + line_size, 0.0f);
      for (int64_t t = 0; t < heights.count[i]; ++t) {
        const float weight = heights.weights[i * heights.width + t];
        const float* __restrict input_row = source + (image * height + heights.first[i] + t) * line_size;
        for (int64_t k = 0; k < line_size; ++k) line[k] += weight * input_row[k];
      }
      float* __restrict output_row = target + item * out_w * channels;
      for (int64_t j = 0; j < out_w; ++j) {
        float* __restrict pixel = output_row + j * channels;
        std::fill(pixel, pixel + channels, 0.0f);
        for (int64_t t = 0; t < widths.count[j]; ++t) {
          const float weight = widths.weights[j * widths.width + t];
          const float* __restrict from = line + (widths.first[j] + t) * channels;
          for (int64_t c = 0; c < channels; ++c) pixel[c] += weight * from[c];
        }
      }
    }
  });
  return out;
}

std::string describe(const AntialiasedResize::Choice& choice) {
  std::string timings;
  for (const auto& [form, ms] : choice.timings) {
    char entry[64];
    std::snprintf(entry, sizeof entry, "%s%s %.3f ms", timings.empty() ? "" : ", ", name_of(form).c_str(), ms);
    timings += entry;
  }
  return choice.input + ": " + name_of(choice.form) + " (" + (timings.empty() ? "not timed" : timings) + ")";
}

std::string AntialiasedResize::key_of(const torch::Tensor& x) const {
  return std::to_string(x.size(2)) + "x" + std::to_string(x.size(3)) + " " + x.device().str();
}

const std::pair<torch::Tensor, torch::Tensor>& AntialiasedResize::matrices_for(const torch::Tensor& x) const {
  const std::string key = key_of(x);
  auto found = matrices_.find(key);
  if (found == matrices_.end()) {
#if DERM_WITH_CUDA
    if (c10::cuda::currentStreamCaptureStatusMayInitCtx() != c10::cuda::CaptureStatus::None) {
      throw Error("the stem's resize of " + key + " was first called while a CUDA graph was being recorded");
    }
#endif
    // Normal tensors even when first made under InferenceMode (derm-classify's
    // warm-up), which autograd could not save for a later training pass.
    const c10::InferenceMode not_inference(false);
    found = matrices_
                .emplace(key, std::pair{antialiased_resize_matrix(x.size(2), output_size_).to(x.device()),
                                        antialiased_resize_matrix(x.size(3), output_size_).to(x.device())})
                .first;
  }
  return found->second;
}

torch::Tensor AntialiasedResize::by_taps(const torch::Tensor& x) const {
  auto found = taps_.find(key_of(x));
  if (found == taps_.end()) {
    const auto& [rows, cols] = matrices_for(x);
    found = taps_.emplace(key_of(x), std::pair{ResizeTaps::of(rows), ResizeTaps::of(cols)}).first;
  }
  return resize_channels_last_by_taps(x, found->second.first, found->second.second);
}

torch::Tensor AntialiasedResize::run(Form form, const torch::Tensor& x) const {
  if (form == Form::interpolate) {
    return F::interpolate(x, F::InterpolateFuncOptions()
                                 .size(std::vector<int64_t>{output_size_, output_size_})
                                 .mode(torch::kBilinear)
                                 .align_corners(false)
                                 .antialias(true));
  }
  const auto& [rows, cols] = matrices_for(x);
  switch (form) {
    case Form::matrices: return resize_by_matrices(x, rows, cols);
    case Form::matrices_channels_last: return resize_by_matrices_channels_last(x, rows, cols);
    default: return resize_by_matrices_channels_last_wide(x, rows, cols);
  }
}

AntialiasedResize::Choice AntialiasedResize::choose(const torch::Tensor& x, const std::string& input) const {
#if DERM_WITH_CUDA
  if (c10::cuda::currentStreamCaptureStatusMayInitCtx() != c10::cuda::CaptureStatus::None) {
    return {input, Form::matrices, {}};
  }
#endif
  const bool grad = x.requires_grad() && torch::GradMode::is_enabled();
  const auto probe = x.detach().clone(torch::MemoryFormat::Preserve).requires_grad_(grad);
  const int device = x.device().index();
  const auto time_ms = [&](Form form) {
    const auto pass = [&] {
      const auto y = run(form, probe);
      if (grad) torch::autograd::grad({y}, {probe}, {torch::ones_like(y)});
    };
    pass();  // first-call costs: cuBLAS handles, workspaces, the matrices
    torch::cuda::synchronize(device);
    constexpr int kRepeats = 3;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kRepeats; ++i) pass();
    torch::cuda::synchronize(device);
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / kRepeats;
  };
  std::vector<Form> forms{Form::interpolate, Form::matrices};
  if (x.dim() == 4 && x.is_contiguous(torch::MemoryFormat::ChannelsLast)) {
    forms.insert(forms.end(), {Form::matrices_channels_last, Form::matrices_channels_last_wide});
  }
  Choice choice{input, Form::interpolate, {}};
  for (const Form form : forms) choice.timings.emplace_back(form, time_ms(form));
  choice.form = std::min_element(choice.timings.begin(), choice.timings.end(),
                                 [](const auto& a, const auto& b) { return a.second < b.second; })
                    ->first;
  return choice;
}

torch::Tensor AntialiasedResize::operator()(const torch::Tensor& x) const {
  if (!x.is_cuda()) return run(Form::interpolate, x);
  std::string input;
  for (const auto size : x.sizes()) input += (input.empty() ? "" : "x") + std::to_string(size);
  input += std::string(" ") + c10::toString(x.scalar_type());
  if (x.dim() == 4 && !x.is_contiguous() && x.is_contiguous(torch::MemoryFormat::ChannelsLast)) input += " channels_last";
  if (x.requires_grad() && torch::GradMode::is_enabled()) input += " grad";
  input += " " + x.device().str();
  auto it = std::find_if(choices_.begin(), choices_.end(), [&](const Choice& c) { return c.input == input; });
  if (it == choices_.end()) it = choices_.insert(it, choose(x, input));
  return run(it->form, x);
}

}  // namespace derm
