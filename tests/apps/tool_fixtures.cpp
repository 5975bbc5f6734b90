#include "tool_fixtures.hpp"

#include <opencv2/imgproc.hpp>

#include "derm/model/model_io.hpp"
#include "derm/model/safetensors.hpp"
#include "test_support.hpp"

namespace derm::testing {
namespace fs = std::filesystem;

fs::path write_small_model(const fs::path& path, const std::vector<std::string>& classes) {
  ModelMetadata m;
  m.architecture.num_classes = static_cast<int>(classes.size());
  m.architecture.aux_logits = false;
  m.architecture.input_size = 75;
  m.architecture.backbone_size = 75;
  m.preprocessing.input_size = 75;
  m.classes = classes;
  m.provenance = {{"trained", false}, {"tool", "test fixture"}};
  Model model = create_model(m);
  save_model(path, model);
  return path;
}

fs::path write_synthetic_manifest(const fs::path& dir, int per_class) {
  fs::create_directories(dir / "images");
  Manifest manifest;
  manifest.classes = {"melanoma", "nevus"};
  for (int c = 0; c < 2; ++c) {
    for (int k = 0; k < per_class; ++k) {
      cv::Mat image = synthetic_lesion(96, 96, static_cast<std::uint64_t>(1000 * c + k));
      const int radius = c == 0 ? 30 : 12;
      cv::circle(image, {48, 48}, radius, c == 0 ? cv::Scalar(40, 20, 20) : cv::Scalar(170, 120, 110), cv::FILLED);
      ManifestEntry e;
      e.id = "syn_" + std::to_string(c) + "_" + std::to_string(k);
      e.path = write_rgb(dir / "images" / (e.id + ".png"), image).string();
      e.label = manifest.classes[static_cast<std::size_t>(c)];
      e.label_index = c;
      e.split = k % 2 == 0 ? "train" : "val";
      e.content_hash = std::string(64, '0');
      e.width = 96;
      e.height = 96;
      e.source = "synthetic";
      manifest.entries.push_back(e);
    }
  }
  write_manifest(dir / "manifest.csv", manifest);
  return dir / "manifest.csv";
}

bool same_model_weights(const fs::path& a, const fs::path& b) {
  const auto ta = read_safetensors(a).tensors;
  const auto tb = read_safetensors(b).tensors;
  if (ta.size() != tb.size()) return false;
  for (const auto& [name, tensor] : ta) {
    auto it = tb.find(name);
    if (it == tb.end() || !torch::equal(tensor, it->second)) return false;
  }
  return true;
}

std::string quoted(const fs::path& path) { return "'" + path.string() + "'"; }

}  // namespace derm::testing
