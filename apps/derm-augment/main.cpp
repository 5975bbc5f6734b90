// derm-augment: writes augmented training samples as WebDataset shards, or a
// contact sheet (--preview) showing what the distortions do.
#include <cstdio>
#include <iostream>
#include <optional>
#include <thread>

#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "derm/core/atomic_file.hpp"
#include "derm/augment/contact_sheet.hpp"
#include "derm/core/error.hpp"
#include "derm/core/logging.hpp"
#include "derm/data/manifest.hpp"
#include "derm/augment/shard_run.hpp"
#include "derm/version.hpp"
#include "distortion_options.hpp"
#include "tool_main.hpp"

namespace {

namespace fs = std::filesystem;

struct Options {
  std::string manifest, split = "train", out, preview, grid = "4x4";
  std::optional<int> size;
  std::int64_t samples = 0;
  int shard_size = 1000;
  std::uint64_t seed = 1;
  int threads = std::max(1u, std::thread::hardware_concurrency());
  int jpeg_quality = 95;
  int cache_images = 32;
  std::int64_t stop_after_shards = -1;
  bool quiet = false;
  bool json = false;
  derm::cli::DistortionOptions distortions;
};

std::pair<int, int> parse_grid(const std::string& text) {
  int columns = 0, rows = 0;
  char x = 0, extra = 0;
  if (std::sscanf(text.c_str(), "%d%c%d%c", &columns, &x, &rows, &extra) != 3 || (x != 'x' && x != 'X') ||
      columns < 1 || rows < 1 || columns * rows > 400) {
    throw derm::OptionError("grid", ": expected COLUMNSxROWS with 1 to 400 tiles (e.g. 4x4), got '" + text + "'");
  }
  return {columns, rows};
}

int run_preview(const Options& o) {
  if (o.out.empty()) throw derm::OptionError("out", ": the contact sheet's file name (.png or .jpg) is required");
  const std::string extension = fs::path(o.out).extension().string();
  if (extension != ".png" && extension != ".jpg" && extension != ".jpeg") {
    throw derm::OptionError("out", ": the contact sheet must be a .png or .jpg file, got '" + o.out + "'");
  }
  const auto [columns, rows] = parse_grid(o.grid);
  derm::AugmentParams params = o.distortions.build();
  params.output_size = o.size.value_or(256);
  params.validate();
  const cv::Mat source = derm::read_rgb_image(o.preview);
  const cv::Mat sheet = derm::augment_contact_sheet(source, params, columns, rows, params.output_size, o.seed);
  cv::Mat bgr;
  cv::cvtColor(sheet, bgr, cv::COLOR_RGB2BGR);
  std::vector<uchar> bytes;
  if (!cv::imencode(extension, bgr, bytes)) throw derm::Error(o.out + ": cannot encode the contact sheet");
  derm::write_file_atomically(o.out, [&](std::ostream& out) {
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  });
  if (o.json) {
    std::cout << nlohmann::json{{"preview", o.preview}, {"out", o.out}, {"columns", columns},
                                {"rows", rows}, {"tile_size", params.output_size},
                                {"params", derm::to_json(params)}}.dump(2) << '\n';
  } else if (!o.quiet) {
    std::cout << "wrote " << o.out << " (" << columns << "x" << rows << " tiles of "
              << params.output_size << " px)\n";
  }
  return derm::cli::kExitOk;
}

int run_shards(const Options& o) {
  if (o.manifest.empty()) throw derm::OptionError("manifest", "is required (or {preview} IMAGE)");
  if (o.out.empty()) throw derm::OptionError("out", ": an output folder is required");
  if (o.samples <= 0) throw derm::OptionError("samples", "must be positive, got " + std::to_string(o.samples));
  derm::ShardRunOptions run;
  run.params = o.distortions.build();
  run.params.output_size = o.size.value_or(700);
  run.params.validate();
  run.split = o.split;
  run.out_dir = o.out;
  run.samples = o.samples;
  run.shard_size = o.shard_size;
  run.seed = o.seed;
  run.threads = o.threads;
  run.jpeg_quality = o.jpeg_quality;
  run.cache_images = o.cache_images;
  run.stop_after_shards = o.stop_after_shards;
  run.quiet = o.quiet;
  run.manifest_path = fs::absolute(o.manifest).string();
  // One sample per worker thread: OpenCV's own threads would only compete.
  cv::setNumThreads(1);
  const derm::Manifest manifest = derm::read_manifest(o.manifest);
  const derm::ShardRunSummary summary = derm::write_augmented_shards(manifest, run);
  if (o.json) {
    std::cout << derm::to_json(summary).dump(2) << '\n';
  } else {
    std::cout << (summary.complete ? "complete: " : "stopped early: ") << summary.shards_total
              << " shards of " << summary.samples << " samples in " << o.out << " ("
              << summary.shards_written << " written now, " << summary.shards_skipped
              << " already there)\n";
  }
  return derm::cli::kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Augmented dermoscopy training samples as WebDataset shards (or a preview contact sheet)",
               "derm-augment"};
  app.set_version_flag("--version", std::string("derm-augment ") + DERM_VERSION);
  Options o;
  // Options of the shards only; --preview excludes them.
  const std::vector<CLI::Option*> shard_options{
      app.add_option("--manifest", o.manifest, "Manifest CSV (from derm-prep)"),
      app.add_option("--split", o.split, "Split of the manifest to augment")->capture_default_str(),
      app.add_option("--samples", o.samples, "Number of samples to write"),
      app.add_option("--shard-size", o.shard_size, "Samples per shard")->capture_default_str(),
      app.add_option("--threads", o.threads, "Worker threads")->capture_default_str(),
      app.add_option("--jpeg-quality", o.jpeg_quality, "JPEG quality of the samples, 1-100")->capture_default_str(),
      app.add_option("--cache-images", o.cache_images, "Decoded source images kept in memory")->capture_default_str(),
      app.add_option("--stop-after-shards", o.stop_after_shards, "Debug: stop after writing this many shards")
          ->group("Debug")};
  app.add_option("--out", o.out, "Output folder for the shards (or the contact sheet file with --preview)");
  app.add_option("--size", o.size, "Output side in pixels (default 700; 256 per tile with --preview)");
  app.add_option("--seed", o.seed, "Run seed: sample k depends only on (seed, k)")
      ->check(derm::cli::at_least(0))->capture_default_str();
  CLI::Option* preview =
      app.add_option("--preview", o.preview, "Write a contact sheet of this image's augmentations to --out instead");
  for (CLI::Option* option : shard_options) preview->excludes(option);
  app.add_option("--grid", o.grid, "Contact sheet tiles, COLUMNSxROWS")->capture_default_str()->needs(preview);
  app.add_flag("-q,--quiet", o.quiet, "No progress or log on stderr");
  app.add_flag("--json", o.json, "Print a JSON summary on stdout");
  o.distortions.add_to(app);

  const auto run = [&] {
    derm::configure_logging(o.quiet ? derm::Verbosity::quiet : derm::Verbosity::normal);
    if (o.jpeg_quality < 1 || o.jpeg_quality > 100) {
      throw derm::OptionError("jpeg_quality", "must be in [1, 100], got " + std::to_string(o.jpeg_quality));
    }
    if (o.size && (*o.size < 32 || *o.size > 8192)) {
      throw derm::OptionError("size", "must be in [32, 8192], got " + std::to_string(*o.size));
    }
    return o.preview.empty() ? run_shards(o) : run_preview(o);
  };
  derm::cli::FlagNames flags = derm::cli::DistortionOptions::flag_names();
  flags.emplace("out_dir", "--out");
  return derm::cli::run_tool(app, argc, argv, run, flags);
}
