#include "distortion_options.hpp"

#include <nlohmann/json.hpp>

#include "derm/core/json_file.hpp"
#include "derm/core/error.hpp"
#include "tool_main.hpp"

namespace derm::cli {

const FlagNames& DistortionOptions::flag_names() {
  static const FlagNames names{{"rotation_deg", "--rotation"},
                               {"hflip_probability", "--hflip"},
                               {"vflip_probability", "--vflip"},
                               {"output_size", "--size"}};
  return names;
}

derm::Range parse_range(const std::string& option, const std::string& text) {
  const auto comma = text.find(',');
  const std::string first = text.substr(0, comma);
  const std::string second = comma == std::string::npos ? first : text.substr(comma + 1);
  derm::Range range;
  try {
    std::size_t used_first = 0, used_second = 0;
    range.min = std::stod(first, &used_first);
    range.max = std::stod(second, &used_second);
    if (used_first != first.size() || used_second != second.size()) throw std::invalid_argument(text);
  } catch (const std::exception&) {
    throw derm::OptionError(option, ": expected MIN,MAX (e.g. 0.8,1.25), got '" + text + "'");
  }
  if (range.min > range.max) {
    throw derm::OptionError(option, ": min greater than max in '" + text + "'");
  }
  return range;
}

std::vector<CLI::Option*> DistortionOptions::add_to(CLI::App& app, bool with_resize) {
  const std::string group = "Distortions";
  std::vector<CLI::Option*> added;
  const auto add = [&](CLI::Option* option) { added.push_back(option->group(group)); };
  add(app.add_option("--params", params_file, "Start from the parameters in a JSON file (e.g. the \"params\" of an augment-run.json)"));
  add(app.add_flag("--no-distortions", none, "Only resize (a baseline); distortion options given with it are added back"));
  if (with_resize) {
    add(app.add_option("--resize", resize, "Non-square sources: squash (default), center_crop or pad")
            ->check(enum_name<derm::ResizePolicy>()));
  }
  add(app.add_option("--rotation", rotation, "Rotation range, degrees (default 0,360)"));
  add(app.add_option("--hflip", hflip, "Probability of a left-right mirror (default 0.5)"));
  add(app.add_option("--vflip", vflip, "Probability of an up-down mirror (default 0.5)"));
  add(app.add_option("--stretch", stretch, "Scale range for both axes, drawn per axis (default 0.8,1.25)"));
  add(app.add_option("--scale-x", scale_x, "Horizontal scale range"));
  add(app.add_option("--scale-y", scale_y, "Vertical scale range"));
  add(app.add_option("--cutout-probability", cutout_probability, "Probability of cut-out (default 0.5)"));
  add(app.add_option("--cutout-count", cutout_count, "Number of rectangles (default 1,3)"));
  add(app.add_option("--cutout-area", cutout_area, "Area fraction of each rectangle (default 0.01,0.05)"));
  add(app.add_option("--cutout-aspect", cutout_aspect, "Width/height of each rectangle (default 0.5,2)"));
  add(app.add_option("--cutout-fill", cutout_fill, "mean (default), noise or black")
          ->check(enum_name<derm::CutoutFill>()));
  add(app.add_option("--brightness", brightness, "Added brightness, fraction of full scale (default -0.1,0.1)"));
  add(app.add_option("--contrast", contrast, "Contrast factor (default 0.8,1.2)"));
  add(app.add_option("--gamma", gamma, "Gamma (default 0.8,1.25)"));
  add(app.add_option("--channel-gain", channel_gain, "Per-channel gain, colour balance (default 0.9,1.1)"));
  return added;
}

derm::AugmentParams DistortionOptions::build() const {
  derm::AugmentParams p;
  if (params_file) {
    nlohmann::json json = derm::read_json_file(*params_file);
    if (json.contains("params")) json = json["params"];
    try {
      p = derm::augment_params_from_json(json);
      p.validate_distortions();
    } catch (const derm::Error& e) {
      throw derm::Error(*params_file + ": " + e.what());
    }
  }
  if (none) {
    p.rotation_deg = {0, 0};
    p.hflip_probability = p.vflip_probability = p.cutout_probability = 0;
    p.scale_x = p.scale_y = {1, 1};
    p.brightness = {0, 0};
    p.contrast = p.gamma = p.channel_gain = {1, 1};
  }
  if (resize) p.resize = derm::parse_enum<derm::ResizePolicy>(*resize, "resize");
  if (rotation) p.rotation_deg = parse_range("rotation_deg", *rotation);
  if (hflip) p.hflip_probability = *hflip;
  if (vflip) p.vflip_probability = *vflip;
  if (stretch) p.scale_x = p.scale_y = parse_range("stretch", *stretch);
  if (scale_x) p.scale_x = parse_range("scale_x", *scale_x);
  if (scale_y) p.scale_y = parse_range("scale_y", *scale_y);
  if (cutout_probability) p.cutout_probability = *cutout_probability;
  if (cutout_count) p.cutout_count = parse_range("cutout_count", *cutout_count);
  if (cutout_area) p.cutout_area = parse_range("cutout_area", *cutout_area);
  if (cutout_aspect) p.cutout_aspect = parse_range("cutout_aspect", *cutout_aspect);
  if (cutout_fill) p.cutout_fill = derm::parse_enum<derm::CutoutFill>(*cutout_fill, "cutout_fill");
  if (brightness) p.brightness = parse_range("brightness", *brightness);
  if (contrast) p.contrast = parse_range("contrast", *contrast);
  if (gamma) p.gamma = parse_range("gamma", *gamma);
  if (channel_gain) p.channel_gain = parse_range("channel_gain", *channel_gain);
  // The --params file passed this check: what fails now is an option's value.
  p.validate_distortions();
  return p;
}

}  // namespace derm::cli
