#pragma once
// What a derm model file says about its network besides the weights: the
// architecture, the classes, how images must be prepared, and where it came from.
#include <array>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "derm/core/image.hpp"

namespace derm {

// Colour constancy of the network's input: none, or Shades of Gray (Finlayson
// and Trezzi 2004): each channel scaled so that the image's illuminant, the
// Minkowski p-norm mean of each channel, becomes grey (derm::normalize_batch).
enum class ColorConstancy { none, shades_of_gray };
template <>
struct EnumNames<ColorConstancy> {
  static constexpr const char* what = "colour constancy";
  static constexpr EnumName<ColorConstancy> names[] = {{ColorConstancy::none, "none"},
                                                       {ColorConstancy::shades_of_gray, "shades_of_gray"}};
};

struct Preprocessing {
  int input_size = 299;
  ResizePolicy resize_policy = ResizePolicy::squash;
  std::array<float, 3> mean{0.485f, 0.456f, 0.406f};  // ImageNet, RGB order
  std::array<float, 3> std{0.229f, 0.224f, 0.225f};
  ColorConstancy color_constancy = ColorConstancy::none;
  double color_constancy_p = 6;  // Shades of Gray's norm

  bool operator==(const Preprocessing& other) const {
    return input_size == other.input_size && resize_policy == other.resize_policy && mean == other.mean &&
           std == other.std && color_constancy == other.color_constancy &&
           (color_constancy == ColorConstancy::none || color_constancy_p == other.color_constancy_p);
  }
  bool operator!=(const Preprocessing& other) const { return !(*this == other); }
};

// The largest input or backbone side a model may have: beyond the paper's 700
// by far, and a 4096x4096 batch of one already needs gigabytes.
inline constexpr int kMaxInputSize = 4096;

struct Architecture {
  std::string name = "inception_v3";
  int num_classes = 1000;
  bool aux_logits = true;
  bool transform_input = false;
  double dropout = 0.5;
  int input_size = 299;
  int backbone_size = 299;
  int stem_channels = 16;
};

struct ModelMetadata {
  Architecture architecture;
  std::vector<std::string> classes;  // size == architecture.num_classes
  Preprocessing preprocessing;
  // Free-form record of how the weights were made: tool, version, date, data,
  // options, and "trained": false for a network nobody has trained.
  nlohmann::json provenance = nlohmann::json::object();

  bool trained() const { return provenance.value("trained", false); }
};

inline constexpr int kModelFormatVersion = 1;

nlohmann::json to_json(const ModelMetadata& metadata);
// Class names are non-empty and distinct: what is wrong with them, or "".
std::string class_names_problem(const std::vector<std::string>& classes);
// derm::Error naming `origin` (a file) for a missing or malformed field.
ModelMetadata model_metadata_from_json(const nlohmann::json& json, const std::string& origin);

// The network's input for one image: decoded RGB resized by the model's policy.
cv::Mat prepare_image(const cv::Mat& rgb, const Preprocessing& preprocessing);

}  // namespace derm
