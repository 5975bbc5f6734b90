#pragma once
// Inference with one model or an ensemble; no LibTorch in this header, so that
// front ends compile quickly.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "derm/infer/heatmap.hpp"
#include "derm/metrics/predictions.hpp"
#include "derm/model/model_metadata.hpp"

namespace derm {

struct ClassifierOptions {
  // Model files, or ensemble folders (see resolve_model_paths). All members
  // must share their classes.
  std::vector<std::filesystem::path> models;
  std::string device = "auto";  // cpu, cuda, cuda:N, auto (CUDA when available)
  // CPU threads for the network; 0 = every core (derm::available_cores()), or
  // LibTorch's default when OMP_NUM_THREADS is set.
  int threads = 0;
  // On CUDA, each member's forward pass (BatchNorm folded into the
  // convolutions) is recorded once per batch shape as a CUDA graph and
  // replayed (derm::GraphedForward); off: plain calls.
  bool cuda_graphs = true;
};

class Classifier {
 public:
  explicit Classifier(const ClassifierOptions& options);
  ~Classifier();
  Classifier(const Classifier&) = delete;
  Classifier& operator=(const Classifier&) = delete;

  const std::vector<std::string>& classes() const;
  const std::vector<ModelMetadata>& members() const;
  const std::vector<std::filesystem::path>& member_paths() const;
  // The distinct preprocessings of the members: each image is prepared once per entry.
  const std::vector<Preprocessing>& preprocessings() const;
  // Whether some member was never trained (its provenance says so).
  bool untrained() const;
  std::string device() const;

  // Decoded RGB images (any size) with their ids -> every member's
  // probabilities and logits. tta_views > 1 is test-time augmentation: logits
  // and probabilities are averaged over that many views of the image: 2 = +
  // horizontal mirror, 4 = + vertical mirrors, 8 = + the 90-degree rotations
  // (the 8 symmetries of the square).
  Predictions classify(const std::vector<cv::Mat>& rgb_images, const std::vector<std::string>& ids,
                       int tta_views = 1);

  // Where the members looked for class `class_index` in one image: Grad-CAM
  // on `layer` (e.g. "Mixed_7c", the last Inception block) of every member,
  // mapped back over the image by each member's preprocessing. OptionError
  // ("heatmap_layer") for a layer the networks do not have.
  Heatmap heatmap(const cv::Mat& rgb, int class_index, const std::string& layer = "Mixed_7c");

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace derm
