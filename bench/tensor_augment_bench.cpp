// The input side of derm-train's step with the images on the device: what it
// costs per batch before the network runs.
//
//   derm_bench_tensor_augment [--device cuda] [--size 700] [--batch 64] [--pool 128]
//       [--iterations 20] [--warmup 5] [--no-channels-last] [--threads N]
//
// As derm-train --data-on device: a pool of random uint8 images held on the
// device at the augmentation's working side (derm::Augmenter::working_side for
// the default augmentation at --size), a batch picked by index_select, augmented
// by derm::TensorAugmenter (lighting, one affine resampling, cut-outs), then
// normalised into the network's layout by derm::normalize_batch (channels_last
// as derm-train on CUDA). --warmup untimed batches, then --iterations timed
// ones, each bracketed by device synchronisations. Prints one JSON object with
// the medians (ms) of the augmentation, the normalisation and both together,
// and images_per_second of both together: to set beside the training step's
// time per batch (bench/gpu/run_all.sh does).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "bench_timing.hpp"
#include "derm/augment/augmenter.hpp"
#include "derm/train/tensor_augment.hpp"
#include "derm/model/tensor_image.hpp"

using derm::bench::synchronize;

namespace {

double median_of(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return derm::bench::median(values);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Times derm-train's on-device input path per batch: augmentation and normalisation",
               "derm_bench_tensor_augment"};
  std::string device_name = "auto";
  int size = 700, batch = 64, pool = 128, iterations = 20, warmup = 5, threads = 0;
  bool channels_last = true;
  app.add_option("--device", device_name, "cpu, cuda, cuda:N or auto")->capture_default_str();
  app.add_option("--size", size, "Network input side in pixels")->capture_default_str();
  app.add_option("--batch", batch, "Images per batch")->capture_default_str();
  app.add_option("--pool", pool, "Images held on the device")->capture_default_str();
  app.add_option("--iterations", iterations, "Timed batches")->capture_default_str();
  app.add_option("--warmup", warmup, "Untimed batches first")->capture_default_str();
  app.add_option("--threads", threads, "CPU threads (0: library default)")->capture_default_str();
  app.add_flag("!--no-channels-last", channels_last, "Normalise into NCHW instead of channels_last");
  CLI11_PARSE(app, argc, argv);

  try {
    if (size < 32 || batch < 1 || pool < 1 || iterations < 1 || warmup < 0 || threads < 0) {
      std::fprintf(stderr, "derm_bench_tensor_augment: --size must be >= 32, --batch, --pool and --iterations >= 1\n");
      return 2;
    }
    if (threads > 0) torch::set_num_threads(threads);
    const torch::Device device = derm::parse_device(device_name);
    torch::manual_seed(1);
    derm::AugmentParams params;
    params.output_size = size;
    const derm::Augmenter augmenter(params);
    const derm::TensorAugmenter augment(augmenter);
    const int side = augmenter.working_side();
    const auto images = torch::randint(0, 256, {pool, 3, side, side}, torch::kUInt8).to(device);
    const derm::Preprocessing preprocessing;
    const auto format = channels_last ? torch::MemoryFormat::ChannelsLast : torch::MemoryFormat::Contiguous;

    std::vector<double> augment_ms, normalize_ms;
    std::uint64_t next_seed = 0;
    for (int i = 0; i < warmup + iterations; ++i) {
      const auto rows = torch::randint(0, pool, {batch}, torch::kInt64).to(device);
      std::vector<std::uint64_t> seeds(static_cast<std::size_t>(batch));
      std::iota(seeds.begin(), seeds.end(), next_seed);
      next_seed += seeds.size();
      synchronize(device);
      const auto t0 = std::chrono::steady_clock::now();
      const auto augmented = augment.apply(images.index_select(0, rows), seeds);
      synchronize(device);
      const auto t1 = std::chrono::steady_clock::now();
      const auto x = derm::normalize_batch(augmented, preprocessing, format);
      synchronize(device);
      const auto t2 = std::chrono::steady_clock::now();
      if (i < warmup) continue;
      augment_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      normalize_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
    }
    std::vector<double> both(augment_ms.size());
    std::transform(augment_ms.begin(), augment_ms.end(), normalize_ms.begin(), both.begin(), std::plus<>());
    const double both_ms = median_of(both);
    const nlohmann::json out{{"tool", "derm_bench_tensor_augment"},
                             {"device", device.str()},
                             {"size", size},
                             {"source_side", side},
                             {"batch", batch},
                             {"channels_last", channels_last},
                             {"iterations", iterations},
                             {"augment_ms", median_of(augment_ms)},
                             {"normalize_ms", median_of(normalize_ms)},
                             {"input_ms", both_ms},
                             {"images_per_second", batch / both_ms * 1e3},
                             {"threads", device.is_cuda() ? 0 : torch::get_num_threads()}};
    std::puts(out.dump().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "derm_bench_tensor_augment: %s\n", e.what());
    return 1;
  }
}
