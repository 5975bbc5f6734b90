// AugmentParams: validation, JSON round trip.
#include "derm/augment/augment_params.hpp"

#include <cmath>
#include <sstream>

#include "derm/core/error.hpp"

namespace derm {

namespace {

std::string format_range(const Range& range) {
  std::ostringstream text;
  text << range.min << ',' << range.max;
  return text.str();
}

void check_probability(double p, const std::string& key) {
  if (!(p >= 0.0 && p <= 1.0)) {
    std::ostringstream text;
    text << ": must be a probability in [0, 1], got " << p;
    throw OptionError(key, text.str());
  }
}

// lo_open: the lower bound itself is not allowed.
void check_range(const Range& range, double lo, double hi, bool lo_open, const std::string& key) {
  if (!std::isfinite(range.min) || !std::isfinite(range.max)) {
    throw OptionError(key, ": values must be finite, got " + format_range(range));
  }
  if (range.min > range.max) {
    throw OptionError(key, ": min greater than max in " + format_range(range));
  }
  const bool below = lo_open ? range.min <= lo : range.min < lo;
  if (below || range.max > hi) {
    std::ostringstream text;
    text << ": values must be in " << (lo_open ? "(" : "[") << lo << ", " << hi << "], got " << format_range(range);
    throw OptionError(key, text.str());
  }
}

nlohmann::json range_json(const Range& range) { return nlohmann::json::array({range.min, range.max}); }

Range range_from_json(const nlohmann::json& value, const std::string& key) {
  if (!value.is_array() || value.size() != 2 || !value[0].is_number() || !value[1].is_number()) {
    throw Error("augmentation parameter " + key + ": expected [min, max], got " + value.dump());
  }
  return Range{value[0].get<double>(), value[1].get<double>()};
}

double number_from_json(const nlohmann::json& value, const std::string& key) {
  if (!value.is_number()) {
    throw Error("augmentation parameter " + key + ": expected a number, got " + value.dump());
  }
  return value.get<double>();
}

}  // namespace

void AugmentParams::validate() const {
  if (output_size < 32 || output_size > 8192) {
    throw OptionError("output_size", ": must be in [32, 8192], got " + std::to_string(output_size));
  }
  validate_distortions();
}

void AugmentParams::validate_distortions() const {
  check_range(rotation_deg, -3600.0, 3600.0, false, "rotation_deg");
  check_probability(hflip_probability, "hflip_probability");
  check_probability(vflip_probability, "vflip_probability");
  check_range(scale_x, 0.0, 10.0, true, "scale_x");
  check_range(scale_y, 0.0, 10.0, true, "scale_y");
  check_probability(cutout_probability, "cutout_probability");
  check_range(cutout_count, 0.0, 100.0, false, "cutout_count");
  if (cutout_count.min != std::floor(cutout_count.min) ||
      cutout_count.max != std::floor(cutout_count.max)) {
    throw OptionError("cutout_count", ": must be whole numbers, got " + format_range(cutout_count));
  }
  check_range(cutout_area, 0.0, 1.0, true, "cutout_area");
  check_range(cutout_aspect, 0.0, 100.0, true, "cutout_aspect");
  check_range(brightness, -1.0, 1.0, false, "brightness");
  check_range(contrast, 0.0, 10.0, false, "contrast");
  check_range(gamma, 0.0, 10.0, true, "gamma");
  check_range(channel_gain, 0.0, 10.0, false, "channel_gain");
}

nlohmann::json to_json(const AugmentParams& params) {
  return {
      {"output_size", params.output_size},
      {"resize", name_of(params.resize)},
      {"rotation_deg", range_json(params.rotation_deg)},
      {"hflip_probability", params.hflip_probability},
      {"vflip_probability", params.vflip_probability},
      {"scale_x", range_json(params.scale_x)},
      {"scale_y", range_json(params.scale_y)},
      {"cutout_probability", params.cutout_probability},
      {"cutout_count", range_json(params.cutout_count)},
      {"cutout_area", range_json(params.cutout_area)},
      {"cutout_aspect", range_json(params.cutout_aspect)},
      {"cutout_fill", name_of(params.cutout_fill)},
      {"brightness", range_json(params.brightness)},
      {"contrast", range_json(params.contrast)},
      {"gamma", range_json(params.gamma)},
      {"channel_gain", range_json(params.channel_gain)},
  };
}

AugmentParams augment_params_from_json(const nlohmann::json& json) {
  if (!json.is_object()) throw Error("augmentation parameters: expected a JSON object");
  AugmentParams params;
  for (const auto& [key, value] : json.items()) {
    if (key == "output_size") {
      if (!value.is_number_integer()) throw Error("augmentation parameter output_size: expected an integer");
      params.output_size = value.get<int>();
    } else if (key == "resize") {
      if (!value.is_string()) throw Error("augmentation parameter resize: expected a string");
      params.resize = parse_enum<ResizePolicy>(value.get<std::string>(), key);
    } else if (key == "cutout_fill") {
      if (!value.is_string()) throw Error("augmentation parameter cutout_fill: expected a string");
      params.cutout_fill = parse_enum<CutoutFill>(value.get<std::string>(), key);
    } else if (key == "rotation_deg") { params.rotation_deg = range_from_json(value, key);
    } else if (key == "hflip_probability") { params.hflip_probability = number_from_json(value, key);
    } else if (key == "vflip_probability") { params.vflip_probability = number_from_json(value, key);
    } else if (key == "scale_x") { params.scale_x = range_from_json(value, key);
    } else if (key == "scale_y") { params.scale_y = range_from_json(value, key);
    } else if (key == "cutout_probability") { params.cutout_probability = number_from_json(value, key);
    } else if (key == "cutout_count") { params.cutout_count = range_from_json(value, key);
    } else if (key == "cutout_area") { params.cutout_area = range_from_json(value, key);
    } else if (key == "cutout_aspect") { params.cutout_aspect = range_from_json(value, key);
    } else if (key == "brightness") { params.brightness = range_from_json(value, key);
    } else if (key == "contrast") { params.contrast = range_from_json(value, key);
    } else if (key == "gamma") { params.gamma = range_from_json(value, key);
    } else if (key == "channel_gain") { params.channel_gain = range_from_json(value, key);
    } else {
      throw Error("augmentation parameters: unknown key '" + key + "'");
    }
  }
  params.validate();
  return params;
}

}  // namespace derm
