// Augmentation throughput and memory on this machine.
//
//   augment_bench [--images DIR] [--size 700] [--samples 200]
//                 [--pipeline-samples 300] [--memory-samples 10000,50000]
//                 [--memory-size 700] [--memory-threads 2] [--json]
//
// 1. Per core (one thread, OpenCV single-threaded), from real JPEGs
//    (default: ../shared/data/isic2017/images, else synthetic images):
//    baseline = decode + plain resize to size; augment = decode + Augmenter::apply;
//    apply only (source decoded once); pipeline = write_augmented_shards with one
//    worker (decode, augment, JPEG q95, tar). Ratios are against the baseline.
// 2. Peak memory (ru_maxrss of a child process running the whole pipeline) for
//    each --memory-samples count, and the ratio largest/smallest.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "derm/core/atomic_file.hpp"
#include "derm/augment/augmenter.hpp"
#include "derm/core/image.hpp"
#include "derm/data/manifest.hpp"
#include "derm/core/progress.hpp"
#include "derm/augment/sample_seed.hpp"
#include "derm/augment/shard_run.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

fs::path default_images() {
  if (const char* env = std::getenv("DERM_DATA_DIR"); env && *env) return fs::path(env) / "isic2017" / "images";
  return fs::path(DERM_SOURCE_DIR) / ".." / "shared" / "data" / "isic2017" / "images";
}

// Up to `count` image files of a folder (sorted), or synthetic ones written to tmp.
std::vector<fs::path> source_images(const fs::path& folder, int count, const fs::path& tmp) {
  std::vector<fs::path> files;
  if (fs::is_directory(folder)) {
    for (const auto& item : fs::directory_iterator(folder)) {
      const auto ext = item.path().extension();
      if (ext == ".jpg" || ext == ".jpeg" || ext == ".png") files.push_back(item.path());
    }
    std::sort(files.begin(), files.end());
    if (files.size() > static_cast<std::size_t>(count)) files.resize(static_cast<std::size_t>(count));
  }
  if (!files.empty()) return files;
  std::fprintf(stderr, "augment_bench: %s not found; using synthetic 1024x768 JPEGs\n", folder.c_str());
  std::mt19937 rng(1);
  for (int i = 0; i < count; ++i) {
    cv::Mat image(768, 1024, CV_8UC3);
    cv::randu(image, cv::Scalar::all(100), cv::Scalar::all(200));
    cv::GaussianBlur(image, image, cv::Size(0, 0), 3.0);
    cv::circle(image, {512, 384}, 200 + static_cast<int>(rng() % 100), cv::Scalar(60, 40, 90), cv::FILLED);
    const fs::path path = tmp / ("synthetic_" + std::to_string(i) + ".jpg");
    cv::imwrite(path.string(), image);
    files.push_back(path);
  }
  return files;
}

derm::Manifest manifest_of(const std::vector<fs::path>& files) {
  derm::Manifest manifest;
  manifest.classes = {"any"};
  for (std::size_t i = 0; i < files.size(); ++i) {
    derm::ManifestEntry e;
    e.id = files[i].stem().string();
    e.path = files[i].string();
    e.label = "any";
    e.label_index = 0;
    e.split = "train";
    e.content_hash = std::string(64, '0');
    e.width = e.height = 1;
    e.source = "bench";
    manifest.entries.push_back(e);
  }
  return manifest;
}

// Samples per second of fn(i) over `samples` calls.
template <typename Fn>
double rate(int samples, Fn&& fn) {
  const auto start = Clock::now();
  for (int i = 0; i < samples; ++i) fn(i);
  return samples / seconds_since(start);
}

struct PipelineResult {
  double samples_per_second = 0;
  long peak_rss_kib = 0;
  double seconds = 0;
};

// Runs the pipeline in a child process (this executable with --child-run) and
// reads its peak resident memory from wait4.
PipelineResult run_child(const fs::path& manifest, const fs::path& out, std::int64_t samples, int size,
                         int threads) {
  const std::string exe = fs::read_symlink("/proc/self/exe").string();
  const std::string samples_text = std::to_string(samples), size_text = std::to_string(size),
                    threads_text = std::to_string(threads);
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    ::close(pipe_fds[0]);
    ::execl(exe.c_str(), exe.c_str(), "--child-run", manifest.c_str(), "--child-out", out.c_str(),
            "--child-samples", samples_text.c_str(), "--size", size_text.c_str(), "--child-threads",
            threads_text.c_str(), static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  ::close(pipe_fds[1]);
  std::string text;
  char buffer[4096];
  for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0;) text.append(buffer, static_cast<std::size_t>(n));
  ::close(pipe_fds[0]);
  int status = 0;
  struct rusage usage {};
  ::wait4(pid, &status, 0, &usage);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error("child run failed: " + text);
  const auto summary = nlohmann::json::parse(text);
  return {summary.at("samples_per_second").get<double>(), usage.ru_maxrss, summary.at("seconds").get<double>()};
}

int child_run(const std::string& manifest, const std::string& out, std::int64_t samples, int size, int threads) {
  cv::setNumThreads(1);
  derm::ShardRunOptions options;
  options.out_dir = out;
  options.samples = samples;
  options.threads = threads;
  options.quiet = true;
  options.params.output_size = size;
  const auto summary = derm::write_augmented_shards(derm::read_manifest(manifest), options);
  std::cout << derm::to_json(summary).dump() << '\n';
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"derm augmentation benchmark", "augment_bench"};
  std::string images = default_images().string();
  int size = 700, samples = 200, pipeline_samples = 300, sources = 64, memory_size = 700, memory_threads = 2;
  std::vector<std::int64_t> memory_samples = {10000, 50000};
  bool json = false;
  std::string child_manifest, child_out;
  std::int64_t child_samples = 0;
  int child_threads = 1;
  app.add_option("--images", images, "Folder of source JPEGs")->capture_default_str();
  app.add_option("--sources", sources, "Number of source images used")->capture_default_str();
  app.add_option("--size", size, "Output side")->capture_default_str();
  app.add_option("--samples", samples, "Samples per single-thread measurement")->capture_default_str();
  app.add_option("--pipeline-samples", pipeline_samples, "Samples for the one-worker pipeline")->capture_default_str();
  app.add_option("--memory-samples", memory_samples, "Sample counts of the memory runs (empty: skip)")
      ->delimiter(',')->capture_default_str();
  app.add_option("--memory-size", memory_size, "Output side of the memory runs")->capture_default_str();
  app.add_option("--memory-threads", memory_threads, "Worker threads of the memory runs")->capture_default_str();
  app.add_flag("--json", json, "Print the results as JSON on stdout");
  app.add_option("--child-run", child_manifest)->group("");
  app.add_option("--child-out", child_out)->group("");
  app.add_option("--child-samples", child_samples)->group("");
  app.add_option("--child-threads", child_threads)->group("");
  CLI11_PARSE(app, argc, argv);
  if (!child_manifest.empty()) return child_run(child_manifest, child_out, child_samples, size, child_threads);

  try {
    cv::setNumThreads(1);
    const fs::path tmp = fs::temp_directory_path() / ("derm-augment-bench-" + std::to_string(::getpid()));
    fs::create_directories(tmp);
    const auto files = source_images(images, sources, tmp);
    const derm::Manifest manifest = manifest_of(files);
    derm::write_manifest(tmp / "manifest.csv", manifest);
    derm::AugmentParams params;
    params.output_size = size;
    const derm::Augmenter augmenter(params);
    const cv::Mat probe = derm::read_rgb_image(files[0]);
    std::fprintf(stderr, "augment_bench: %zu sources like %s (%dx%d), output %dx%d, 1 thread\n", files.size(),
                 files[0].filename().c_str(), probe.cols, probe.rows, size, size);

    auto source = [&](int i) { return derm::read_rgb_image(files[static_cast<std::size_t>(i) % files.size()]); };
    volatile int sink = 0;
    const double baseline = rate(samples, [&](int i) {
      sink = sink + derm::resize_to_square(source(i), size, derm::ResizePolicy::squash).data[0];
    });
    const double augment = rate(samples, [&](int i) {
      sink = sink + augmenter.apply(source(i), derm::derive_seed(1, 0, static_cast<std::uint64_t>(i))).data[0];
    });
    std::vector<cv::Mat> decoded;
    for (std::size_t i = 0; i < std::min<std::size_t>(files.size(), 16); ++i) decoded.push_back(augmenter.prepare(source(static_cast<int>(i))));
    const double apply_only = rate(samples, [&](int i) {
      sink = sink + augmenter.apply(decoded[static_cast<std::size_t>(i) % decoded.size()],
                                    derm::derive_seed(1, 0, static_cast<std::uint64_t>(i))).data[0];
    });
    std::fprintf(stderr, "augment_bench: single-thread done; pipeline with 1 worker...\n");
    const PipelineResult pipeline1 = run_child(tmp / "manifest.csv", tmp / "p1", pipeline_samples, size, 1);
    fs::remove_all(tmp / "p1");

    nlohmann::json memory = nlohmann::json::array();
    std::vector<long> peaks;
    for (const std::int64_t n : memory_samples) {
      if (n <= 0) continue;
      std::fprintf(stderr, "augment_bench: memory run, %lld samples at %d px, %d threads...\n",
                   static_cast<long long>(n), memory_size, memory_threads);
      const PipelineResult r = run_child(tmp / "manifest.csv", tmp / "mem", n, memory_size, memory_threads);
      fs::remove_all(tmp / "mem");
      peaks.push_back(r.peak_rss_kib);
      memory.push_back({{"samples", n}, {"size", memory_size}, {"threads", memory_threads},
                        {"peak_rss_mib", r.peak_rss_kib / 1024.0}, {"seconds", r.seconds},
                        {"samples_per_second", r.samples_per_second}});
    }
    fs::remove_all(tmp);

    const double per_million_hours_1core = 1e6 / pipeline1.samples_per_second / 3600.0;
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    nlohmann::json result = {
        {"machine_cores", cores},
        {"sources", files.size()},
        {"source_folder", images},
        {"source_size", {probe.cols, probe.rows}},
        {"output_size", size},
        {"per_core_samples_per_second",
         {{"baseline_decode_resize", baseline},
          {"decode_augment", augment},
          {"augment_only", apply_only},
          {"pipeline_decode_augment_jpeg_tar", pipeline1.samples_per_second}}},
        {"ratio_vs_baseline",
         {{"decode_augment", augment / baseline}, {"pipeline", pipeline1.samples_per_second / baseline}}},
        {"extrapolated_1M_samples_hours", {{"one_core", per_million_hours_1core},
                                           {"all_cores_ideal", per_million_hours_1core / cores}}},
        {"memory", memory},
    };
    if (peaks.size() >= 2) result["memory_ratio_last_vs_first"] = static_cast<double>(peaks.back()) / peaks.front();

    if (json) {
      std::cout << result.dump(2) << '\n';
    } else {
      std::printf("per core at %dx%d (samples/s): baseline decode+resize %.1f | decode+augment %.1f (x%.2f) | "
                  "augment only %.1f | pipeline %.1f (x%.2f)\n",
                  size, size, baseline, augment, augment / baseline, apply_only, pipeline1.samples_per_second,
                  pipeline1.samples_per_second / baseline);
      std::printf("1,000,000 samples: %s on one core, %s on %u cores (ideal scaling)\n",
                  derm::format_duration(per_million_hours_1core * 3600).c_str(),
                  derm::format_duration(per_million_hours_1core * 3600 / cores).c_str(), cores);
      for (const auto& m : memory) {
        std::printf("peak memory, %lld samples: %.1f MiB (%.0f s)\n", m["samples"].get<long long>(),
                    m["peak_rss_mib"].get<double>(), m["seconds"].get<double>());
      }
      if (result.contains("memory_ratio_last_vs_first")) {
        std::printf("memory ratio: %.3f\n", result["memory_ratio_last_vs_first"].get<double>());
      }
    }
    return sink == -1 ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "augment_bench: error: %s\n", e.what());
    return 1;
  }
}
