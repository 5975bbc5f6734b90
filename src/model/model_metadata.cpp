#include "derm/model/model_metadata.hpp"

#include <algorithm>
#include <cmath>

#include "derm/core/error.hpp"

namespace derm {

using nlohmann::json;

namespace {

// The float values as the decimals they were written from (0.485, not 0.48500001).
std::array<double, 3> rounded(const std::array<float, 3>& values) {
  std::array<double, 3> out{};
  for (std::size_t i = 0; i < 3; ++i) out[i] = std::round(values[i] * 1e6) / 1e6;
  return out;
}

}  // namespace

json to_json(const ModelMetadata& m) {
  const auto& a = m.architecture;
  const auto& p = m.preprocessing;
  json out{
      {"format", "derm-model"},
      {"format_version", kModelFormatVersion},
      {"architecture",
       {{"name", a.name},
        {"num_classes", a.num_classes},
        {"aux_logits", a.aux_logits},
        {"transform_input", a.transform_input},
        {"dropout", a.dropout},
        {"input_size", a.input_size},
        {"backbone_size", a.backbone_size},
        {"stem_channels", a.stem_channels}}},
      {"classes", m.classes},
      {"preprocessing",
       {{"input_size", p.input_size},
        {"resize_policy", name_of(p.resize_policy)},
        {"color_order", "RGB"},
        {"mean", rounded(p.mean)},
        {"std", rounded(p.std)}}},
      {"provenance", m.provenance},
  };
  // Only when used: files written before the option existed read the same.
  if (p.color_constancy != ColorConstancy::none) {
    out["preprocessing"]["color_constancy"] = name_of(p.color_constancy);
    out["preprocessing"]["color_constancy_p"] = p.color_constancy_p;
  }
  return out;
}

std::string class_names_problem(const std::vector<std::string>& classes) {
  for (std::size_t i = 0; i < classes.size(); ++i) {
    if (classes[i].empty()) return "class " + std::to_string(i + 1) + " has an empty name";
    if (std::find(classes.begin(), classes.begin() + static_cast<std::ptrdiff_t>(i), classes[i]) !=
        classes.begin() + static_cast<std::ptrdiff_t>(i)) {
      return "class '" + classes[i] + "' is named twice";
    }
  }
  return {};
}

ModelMetadata model_metadata_from_json(const json& j, const std::string& origin) {
  try {
    if (j.value("format", "") != "derm-model") {
      throw Error(origin + ": not a derm model file (no derm-model metadata)");
    }
    const int version = j.at("format_version").get<int>();
    if (version > kModelFormatVersion) {
      throw Error(origin + ": model format version " + std::to_string(version) +
                  " is newer than this derm understands (" + std::to_string(kModelFormatVersion) + ")");
    }
    ModelMetadata m;
    const auto& a = j.at("architecture");
    m.architecture.name = a.at("name").get<std::string>();
    if (m.architecture.name != "inception_v3") {
      throw Error(origin + ": unknown architecture '" + m.architecture.name + "'");
    }
    m.architecture.num_classes = a.at("num_classes").get<int>();
    m.architecture.aux_logits = a.at("aux_logits").get<bool>();
    m.architecture.transform_input = a.at("transform_input").get<bool>();
    m.architecture.dropout = a.value("dropout", 0.5);
    m.architecture.input_size = a.at("input_size").get<int>();
    m.architecture.backbone_size = a.value("backbone_size", 299);
    m.architecture.stem_channels = a.value("stem_channels", 16);
    m.classes = j.at("classes").get<std::vector<std::string>>();
    if (static_cast<int>(m.classes.size()) != m.architecture.num_classes) {
      throw Error(origin + ": " + std::to_string(m.classes.size()) + " class names for " +
                  std::to_string(m.architecture.num_classes) + " outputs");
    }
    if (const std::string problem = class_names_problem(m.classes); !problem.empty()) {
      throw Error(origin + ": " + problem);
    }
    const auto& p = j.at("preprocessing");
    m.preprocessing.input_size = p.at("input_size").get<int>();
    m.preprocessing.resize_policy = parse_enum<ResizePolicy>(p.at("resize_policy").get<std::string>(), "resize_policy");
    m.preprocessing.mean = p.at("mean").get<std::array<float, 3>>();
    m.preprocessing.std = p.at("std").get<std::array<float, 3>>();
    m.preprocessing.color_constancy =
        parse_enum<ColorConstancy>(p.value("color_constancy", std::string("none")), "color_constancy");
    m.preprocessing.color_constancy_p = p.value("color_constancy_p", 6.0);
    if (!(m.preprocessing.color_constancy_p >= 1 && m.preprocessing.color_constancy_p <= 64)) {
      throw Error(origin + ": color_constancy_p must be in [1, 64]");
    }
    if (m.preprocessing.input_size != m.architecture.input_size) {
      throw Error(origin + ": preprocessing input_size differs from the architecture's");
    }
    m.provenance = j.value("provenance", json::object());
    return m;
  } catch (const json::exception& e) {
    throw Error(origin + ": malformed model metadata (" + e.what() + ")");
  } catch (const OptionError& e) {  // a value of the file's, not of an option
    throw Error(origin + ": " + e.what());
  }
}

cv::Mat prepare_image(const cv::Mat& rgb, const Preprocessing& preprocessing) {
  return resize_to_square(rgb, preprocessing.input_size, preprocessing.resize_policy);
}

}  // namespace derm
