// A freshly initialised derm model file for benchmarks, and optionally a test image.
//
//   derm_bench_make_model OUT.safetensors [--input-size 700] [--backbone-size 299]
//       [--classes melanoma,seborrheic_keratosis,nevus] [--seed 1]
//       [--image SRC] [--image-out OUT.png]
//
// torchvision's initialisation alone gives logits of order 1e10 (fresh BatchNorm
// statistics), i.e. probabilities of exactly 0 and 1, which would make a
// "same probabilities" check meaningless. So, as a stand-in for training, the
// stem's last convolution gets small random weights (the stem path is exercised,
// not a pure resize), the BatchNorm statistics are calibrated on one batch (the
// test image and its mirror; seeded noise without an image) and the classifier
// is scaled so that the logits on that batch are within +-2. The file is marked
// untrained.
//
// --image-out writes a PNG of side --input-size: SRC decoded and squashed to that
// size (derm's resize), or a synthetic lesion when SRC is empty or missing, so
// that classifying it needs no resize. Without --image-out or SRC nothing is written
// but the model.
#include <cstdio>
#include <sstream>

#include <CLI/CLI.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "derm/core/image.hpp"
#include "derm/model/model_io.hpp"
#include "derm/model/tensor_image.hpp"

namespace {

namespace fs = std::filesystem;

cv::Mat synthetic_lesion(int size) {
  cv::Mat bgr(size, size, CV_8UC3, cv::Scalar(150, 170, 215));  // skin, BGR
  cv::RNG rng(1);
  cv::Mat noise(size, size, CV_8UC3);
  rng.fill(noise, cv::RNG::NORMAL, cv::Scalar::all(0), cv::Scalar::all(6));
  cv::ellipse(bgr, {size / 2 + size / 20, size / 2 - size / 30}, {size / 4, size / 5}, 15.0, 0, 360,
              cv::Scalar(60, 70, 110), cv::FILLED);
  cv::GaussianBlur(bgr, bgr, cv::Size(0, 0), size / 40.0);
  return bgr + noise;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Write a freshly initialised derm model file (and a test image) for benchmarks",
               "derm_bench_make_model"};
  std::string out, classes_text = "melanoma,seborrheic_keratosis,nevus", image, image_out;
  int input_size = 700, backbone_size = 299;
  std::uint64_t seed = 1;
  bool aux_logits = false;
  app.add_option("output", out, "Model file to write (.safetensors)")->required();
  app.add_option("--input-size", input_size, "Side of the network's input images")->capture_default_str();
  app.add_option("--backbone-size", backbone_size, "Backbone side (a learned-resizer stem when different)")
      ->capture_default_str();
  app.add_option("--classes", classes_text, "Comma-separated class names")->capture_default_str();
  app.add_flag("--aux-logits", aux_logits, "Keep the auxiliary head (off by default)");
  app.add_option("--seed", seed, "Random seed")->capture_default_str();
  app.add_option("--image", image, "Source image for --image-out (synthetic when empty or missing)");
  app.add_option("--image-out", image_out, "PNG of side --input-size to write");
  CLI11_PARSE(app, argc, argv);

  try {
    derm::ModelMetadata metadata;
    std::stringstream list(classes_text);
    for (std::string name; std::getline(list, name, ',');) {
      if (!name.empty()) metadata.classes.push_back(name);
    }
    auto& a = metadata.architecture;
    a.num_classes = static_cast<int>(metadata.classes.size());
    a.aux_logits = aux_logits;
    a.transform_input = false;
    a.input_size = input_size;
    a.backbone_size = backbone_size;
    metadata.preprocessing.input_size = input_size;
    metadata.provenance = {{"tool", "bench/make_model"},
                           {"seed", seed},
                           {"trained", false},
                           {"note", "random weights, BatchNorm calibrated on random noise; for benchmarks only"}};

    // The test image first: it is also the calibration batch.
    cv::Mat rgb;
    if (!image.empty() && fs::exists(image)) {
      rgb = derm::resize_to_square(derm::read_rgb_image(image), input_size, derm::ResizePolicy::squash);
    } else if (!image_out.empty()) {
      std::fprintf(stderr, "derm_bench_make_model: no source image; using a synthetic lesion\n");
      cv::cvtColor(synthetic_lesion(input_size), rgb, cv::COLOR_BGR2RGB);
    }
    if (!image_out.empty()) {
      cv::Mat bgr;
      cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
      if (!cv::imwrite(image_out, bgr)) throw std::runtime_error("cannot write " + image_out);
      std::fprintf(stderr, "derm_bench_make_model: wrote %s (%dx%d)\n", image_out.c_str(), bgr.cols, bgr.rows);
    }

    torch::manual_seed(seed);
    derm::Model model = derm::create_model(metadata);
    auto& net = *model.network;
    {
      torch::NoGradGuard no_grad;
      // Calibration batch: the image and its mirror (random noise without one).
      const torch::Tensor batch =
          rgb.empty() ? torch::randn({2, 3, input_size, input_size})
                      : [&] {
                          const auto x = derm::normalize_batch(derm::to_chw_uint8(rgb).unsqueeze(0),
                                                               metadata.preprocessing);
                          return torch::cat({x, x.flip({3})});
                        }();
      if (net.stem) net.stem->conv_out->weight.normal_(0.0, 0.02);
      for (auto& module : net.modules(/*include_self=*/false)) {
        if (auto* bn = module->as<torch::nn::BatchNorm2d>()) {
          bn->options.momentum(c10::nullopt);  // cumulative average: one batch sets the statistics
          bn->reset_running_stats();
        }
      }
      net.train();
      net.forward(batch);
      net.eval();
      for (auto& module : net.modules(/*include_self=*/false)) {
        if (auto* bn = module->as<torch::nn::BatchNorm2d>()) bn->options.momentum(0.1);
      }
      // Logits of at most +-2 on the calibration batch: probabilities well inside (0, 1).
      const double largest = net.forward(batch).abs().max().item<double>();
      if (largest > 0) {
        net.fc->weight.mul_(2.0 / largest);
        net.fc->bias.mul_(2.0 / largest);
      }
    }
    derm::save_model(out, model);
    std::fprintf(stderr, "derm_bench_make_model: wrote %s (%d classes, %dx%d input, backbone %d)\n", out.c_str(),
                 a.num_classes, input_size, input_size, backbone_size);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "derm_bench_make_model: error: %s\n", e.what());
    return 1;
  }
}
