#pragma once
// Inference with one model or an ensemble; no LibTorch in this header, so that
// front ends compile quickly.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "derm/model_metadata.hpp"

namespace derm {

struct ClassifierOptions {
  // Model files, or ensemble folders (holding ensemble.json, else every
  // *.safetensors in name order; a derm-train folder without ensemble.json is
  // an unfinished ensemble and refused). All members must share their classes.
  std::vector<std::filesystem::path> models;
  std::string device = "auto";  // cpu, cuda, cuda:N, auto (CUDA when available)
  int threads = 0;              // CPU threads for the network; 0 = library default
  // On CUDA, each member's forward pass (BatchNorm folded into the
  // convolutions) is recorded once per batch shape as a CUDA graph and
  // replayed (derm::GraphedForward); off: plain calls.
  bool cuda_graphs = true;
};

struct MemberOutput {
  std::vector<float> logits;
  std::vector<float> probabilities;  // softmax of the logits
};

// The model files behind the given paths, ensemble folders expanded.
std::vector<std::filesystem::path> resolve_model_paths(const std::vector<std::filesystem::path>& models);

// The file naming an ensemble's members inside an ensemble folder.
inline constexpr const char* kEnsembleFile = "ensemble.json";

class Classifier {
 public:
  explicit Classifier(const ClassifierOptions& options);
  ~Classifier();
  Classifier(const Classifier&) = delete;
  Classifier& operator=(const Classifier&) = delete;

  const std::vector<std::string>& classes() const;
  const std::vector<ModelMetadata>& members() const;
  const std::vector<std::filesystem::path>& member_paths() const;
  // Whether some member was never trained (its provenance says so).
  bool untrained() const;
  std::string device() const;

  // Decoded RGB images (any size; each member prepares them by its own
  // preprocessing) -> [image][member] outputs. tta_views > 1 is test-time
  // augmentation: logits and probabilities are averaged over that many views
  // of the image: 2 = + horizontal mirror, 4 = + vertical mirrors, 8 = + the
  // 90-degree rotations (the 8 symmetries of the square).
  std::vector<std::vector<MemberOutput>> classify(const std::vector<cv::Mat>& rgb_images, int tta_views = 1);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace derm
