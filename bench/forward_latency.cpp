// Single-image forward latency of a derm model: what derm-classify's network
// call costs once the image is prepared, on the CPU or a GPU.
//
//   derm_bench_forward_latency MODEL.safetensors [--device cuda] [--size 700] [--iterations 100]
//       [--warmup 20] [--batch 1] [--bf16] [--channels-last] [--cudnn-benchmark] [--threads N]
//       [--no-cuda-graphs] [--no-fold] [--[no-]merge-siblings] [--[no-]fused-relu] [--[no-]fold-pools]
//       [--no-cpu-plan]
//
// The model is loaded and run as derm::Classifier runs it: derm::load_model (eval
// mode on --device), on CUDA BatchNorm folded into the convolutions, on the
// CPU its oneDNN plan for the input's shape made and run once at load
// (InceptionV3Impl::prepare_cpu_inference; "load_ms" includes it), under
// c10::InferenceMode, through derm::GraphedForward (on CUDA a recorded graph,
// replayed). The input is a fixed pattern (the same as
// bench/pytorch_latency_baseline.py's), already normalised and on the device,
// so only the network is timed. --warmup untimed passes (on CUDA the first
// records the graph), then --iterations timed ones, each bracketed by a device
// synchronisation (torch::cuda::synchronize on CUDA). Prints one JSON object:
// median_ms, p90_ms, mean_ms, min_ms, images_per_second (batch / median),
// device, dtype, and the logits of the first image (to compare with the baseline).
//
// "stem_resize" lists how the stem's resize ran (derm/model/antialiased_resize.hpp).
//
// Defaults are derm-classify's own settings: fp32, contiguous (NCHW) input,
// cuDNN benchmark off, on CUDA graphs and the BatchNorm fold. --bf16 runs under
// bf16 autocast as training does; --channels-last, --cudnn-benchmark,
// --no-cuda-graphs, --no-fold, --no-cpu-plan (LibTorch's operators) and the fold's options (derm::FoldOptions, whose
// defaults derm-classify uses) are what-if switches.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "bench_timing.hpp"
#include "derm/model/autocast.hpp"
#include "derm/model/graphed_forward.hpp"
#include "derm/model/model_io.hpp"
#include "derm/model/tensor_image.hpp"

using derm::bench::median;
using derm::bench::percentile;
using derm::bench::synchronize;

int main(int argc, char** argv) {
  CLI::App app{"Times batch-1 forward passes of a derm model (derm-classify's network call) on a device",
               "derm_bench_forward_latency"};
  std::string model_path, device_name = "auto";
  int size = 0, iterations = 100, warmup = 20, batch = 1, threads = 0;
  bool bf16 = false, channels_last = false, cudnn_benchmark = false, cuda_graphs = true, fold = true, cpu_plan = true;
  derm::FoldOptions fold_options;
  app.add_option("model", model_path, "derm model file (.safetensors)")->required();
  app.add_option("--device", device_name, "cpu, cuda, cuda:N or auto")->capture_default_str();
  app.add_option("--size", size, "Input side in pixels (0: the model's input size)")->capture_default_str();
  app.add_option("--iterations", iterations, "Timed forward passes")->capture_default_str();
  app.add_option("--warmup", warmup, "Untimed forward passes first")->capture_default_str();
  app.add_option("--batch", batch, "Images per forward pass")->capture_default_str();
  app.add_option("--threads", threads, "CPU threads for the network (0: library default)")->capture_default_str();
  app.add_flag("--bf16", bf16, "bf16 autocast (default: fp32, as derm-classify)");
  app.add_flag("--channels-last", channels_last, "Channels-last weights and input (default: as derm-classify, off)");
  app.add_flag("--cudnn-benchmark", cudnn_benchmark, "cuDNN autotuning (default: as derm-classify, off)");
  app.add_flag("!--no-cuda-graphs", cuda_graphs, "Plain forward calls instead of a replayed CUDA graph");
  app.add_flag("!--no-cpu-plan", cpu_plan, "CPU: LibTorch's operators instead of the oneDNN plan");
  app.add_flag("!--no-fold", fold, "CUDA: keep BatchNorm apart from the convolutions");
  app.add_flag("--merge-siblings,!--no-merge-siblings", fold_options.merge_siblings,
               "With the fold: each block's 1x1 convolutions that read its input as one")
      ->capture_default_str();
  app.add_flag("--fused-relu,!--no-fused-relu", fold_options.fused_relu,
               "With the fold: convolution, bias and ReLU as one cuDNN call")
      ->capture_default_str();
  app.add_flag("--fold-pools,!--no-fold-pools", fold_options.average_pools,
               "With the fold: each block's average pool folded into the convolution it feeds")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    if (iterations < 1 || warmup < 0 || batch < 1 || threads < 0 || (size != 0 && size < 32)) {
      throw std::runtime_error("--iterations and --batch must be >= 1, --warmup and --threads >= 0, --size >= 32");
    }
    if (!fold && (fold_options.merge_siblings || fold_options.fused_relu || fold_options.average_pools)) {
      throw std::runtime_error("--merge-siblings, --fused-relu and --fold-pools need the fold (drop --no-fold)");
    }
    if (threads > 0) torch::set_num_threads(threads);
    const torch::Device device = derm::parse_device(device_name);
    if (device.is_cuda()) at::globalContext().setBenchmarkCuDNN(cudnn_benchmark);

    const auto load_start = std::chrono::steady_clock::now();
    derm::Model model = derm::load_model(model_path, device);
    auto& net = model.network;
    net->eval();
    net->cpu_inference_plans = cpu_plan && derm::InceptionV3Impl::cpu_inference_plans_built();
    if (channels_last) {
      torch::NoGradGuard no_grad;
      for (auto& p : net->parameters()) {
        if (p.dim() == 4) p.set_data(p.data().contiguous(torch::MemoryFormat::ChannelsLast));
      }
    }
    const bool folded = fold && derm::InceptionV3Impl::inference_folds_batch_norm(device);
    if (folded) net->fold_batch_norm(fold_options);
    if (size == 0) size = model.metadata.preprocessing.input_size;
    if (device.is_cpu() && net->cpu_inference_plans && !bf16) net->prepare_cpu_inference(size, size);
    const double load_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - load_start).count();
    derm::GraphedForward forward(
        [&](const torch::Tensor& input) {
          derm::Bf16Autocast cast(bf16, device);
          return net->forward(input);
        },
        cuda_graphs);

    c10::InferenceMode inference_mode;
    // The same fixed pattern as pytorch_latency_baseline.py: values in [-1, 1).
    torch::Tensor x = torch::arange(std::int64_t{3} * size * size, torch::kFloat32)
                          .remainder(251.0)
                          .div(125.0)
                          .sub(1.0)
                          .reshape({1, 3, size, size})
                          .expand({batch, 3, size, size})
                          .contiguous()
                          .to(device);
    if (channels_last) x = x.contiguous(torch::MemoryFormat::ChannelsLast);

    torch::Tensor logits;
    for (int i = 0; i < warmup; ++i) logits = forward(x);
    synchronize(device);
    std::vector<double> ms;
    ms.reserve(static_cast<std::size_t>(iterations));
    for (int i = 0; i < iterations; ++i) {
      synchronize(device);
      const auto start = std::chrono::steady_clock::now();
      logits = forward(x);
      synchronize(device);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    const auto first = logits[0].to(torch::kFloat32).cpu().contiguous();
    std::vector<double> first_logits(first.data_ptr<float>(), first.data_ptr<float>() + first.numel());
    double sum = 0;
    for (double v : ms) sum += v;
    std::sort(ms.begin(), ms.end());
    const double median_ms = median(ms);

    nlohmann::json out{{"tool", "derm_bench_forward_latency"},
                       {"implementation", "derm (LibTorch C++)"},
                       {"libtorch_version", TORCH_VERSION},
                       {"model", model_path},
                       {"device", device.str()},
                       {"dtype", bf16 ? "bf16-autocast" : "fp32"},
                       {"channels_last", channels_last},
                       {"cudnn_benchmark", device.is_cuda() && cudnn_benchmark},
                       {"cuda_graph", forward.recordings() > 0},
                       {"batch_norm_folded", folded},
                       {"merged_siblings", folded && fold_options.merge_siblings},
                       {"fused_relu", folded && fold_options.fused_relu},
                       {"folded_average_pools", folded && fold_options.average_pools},
                       {"cpu_plan", device.is_cpu() && net->cpu_inference_plans && !bf16},
                       {"load_ms", load_ms},
                       {"threads", device.is_cuda() ? 0 : torch::get_num_threads()},
                       {"size", size},
                       {"batch", batch},
                       {"warmup", warmup},
                       {"iterations", iterations},
                       {"median_ms", median_ms},
                       {"p90_ms", percentile(ms, 90)},
                       {"mean_ms", sum / static_cast<double>(ms.size())},
                       {"min_ms", ms.front()},
                       {"max_ms", ms.back()},
                       {"images_per_second", 1000.0 * batch / median_ms},
                       {"logits", first_logits}};
    if (net->stem) {
      out["stem_resize"] = nlohmann::json::array();
      for (const auto& choice : net->stem->resizer().choices()) out["stem_resize"].push_back(derm::describe(choice));
    }
    std::puts(out.dump().c_str());
    return 0;
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "derm_bench_forward_latency: error: %s\n", e.what_without_backtrace());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "derm_bench_forward_latency: error: %s\n", e.what());
    return 1;
  }
}
