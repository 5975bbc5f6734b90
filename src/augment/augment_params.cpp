// AugmentParams: validation, JSON round trip; derive_seed.
#include <cmath>
#include <sstream>

#include "derm/augment.hpp"
#include "derm/error.hpp"
#include "sample_rng.hpp"

namespace derm {

namespace {

std::string format_range(const Range& range) {
  std::ostringstream text;
  text << range.min << ',' << range.max;
  return text.str();
}

// JSON key and the derm-augment option that sets it, for error messages.
std::string name_of(const std::string& key, const std::string& option) {
  return "augmentation parameter " + key + " (" + option + ")";
}

void check_probability(double p, const std::string& key, const std::string& option) {
  if (!(p >= 0.0 && p <= 1.0)) {
    std::ostringstream text;
    text << name_of(key, option) << ": must be a probability in [0, 1], got " << p;
    throw Error(text.str());
  }
}

// lo_open: the lower bound itself is not allowed.
void check_range(const Range& range, double lo, double hi, bool lo_open, const std::string& key,
                 const std::string& option) {
  const std::string prefix = name_of(key, option) + ": ";
  if (!std::isfinite(range.min) || !std::isfinite(range.max)) {
    throw Error(prefix + "values must be finite, got " + format_range(range));
  }
  if (range.min > range.max) {
    throw Error(prefix + "min greater than max in " + format_range(range));
  }
  const bool below = lo_open ? range.min <= lo : range.min < lo;
  if (below || range.max > hi) {
    std::ostringstream text;
    text << prefix << "values must be in " << (lo_open ? "(" : "[") << lo << ", " << hi
         << "], got " << format_range(range);
    throw Error(text.str());
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

CutoutFill parse_cutout_fill(const std::string& name) {
  if (name == "mean") return CutoutFill::mean;
  if (name == "noise") return CutoutFill::noise;
  if (name == "black") return CutoutFill::black;
  throw Error("unknown cut-out fill '" + name + "' (expected mean, noise or black)");
}

std::string to_string(CutoutFill fill) {
  switch (fill) {
    case CutoutFill::mean: return "mean";
    case CutoutFill::noise: return "noise";
    case CutoutFill::black: return "black";
  }
  return "mean";
}

void AugmentParams::validate() const {
  if (output_size < 32 || output_size > 8192) {
    throw Error(name_of("output_size", "--size") + ": must be in [32, 8192], got " +
                std::to_string(output_size));
  }
  validate_distortions();
}

void AugmentParams::validate_distortions() const {
  check_range(rotation_deg, -3600.0, 3600.0, false, "rotation_deg", "--rotation");
  check_probability(hflip_probability, "hflip_probability", "--hflip");
  check_probability(vflip_probability, "vflip_probability", "--vflip");
  check_range(scale_x, 0.0, 10.0, true, "scale_x", "--scale-x");
  check_range(scale_y, 0.0, 10.0, true, "scale_y", "--scale-y");
  check_probability(cutout_probability, "cutout_probability", "--cutout-probability");
  check_range(cutout_count, 0.0, 100.0, false, "cutout_count", "--cutout-count");
  if (cutout_count.min != std::floor(cutout_count.min) ||
      cutout_count.max != std::floor(cutout_count.max)) {
    throw Error(name_of("cutout_count", "--cutout-count") + ": must be whole numbers, got " +
                format_range(cutout_count));
  }
  check_range(cutout_area, 0.0, 1.0, true, "cutout_area", "--cutout-area");
  check_range(cutout_aspect, 0.0, 100.0, true, "cutout_aspect", "--cutout-aspect");
  check_range(brightness, -1.0, 1.0, false, "brightness", "--brightness");
  check_range(contrast, 0.0, 10.0, false, "contrast", "--contrast");
  check_range(gamma, 0.0, 10.0, true, "gamma", "--gamma");
  check_range(channel_gain, 0.0, 10.0, false, "channel_gain", "--channel-gain");
}

nlohmann::json to_json(const AugmentParams& params) {
  return {
      {"output_size", params.output_size},
      {"resize", to_string(params.resize)},
      {"rotation_deg", range_json(params.rotation_deg)},
      {"hflip_probability", params.hflip_probability},
      {"vflip_probability", params.vflip_probability},
      {"scale_x", range_json(params.scale_x)},
      {"scale_y", range_json(params.scale_y)},
      {"cutout_probability", params.cutout_probability},
      {"cutout_count", range_json(params.cutout_count)},
      {"cutout_area", range_json(params.cutout_area)},
      {"cutout_aspect", range_json(params.cutout_aspect)},
      {"cutout_fill", to_string(params.cutout_fill)},
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
      params.resize = parse_resize_policy(value.get<std::string>());
    } else if (key == "cutout_fill") {
      if (!value.is_string()) throw Error("augmentation parameter cutout_fill: expected a string");
      params.cutout_fill = parse_cutout_fill(value.get<std::string>());
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

std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t a, std::uint64_t b) {
  std::uint64_t h = detail::mix64(seed + 0x9E3779B97F4A7C15ULL);
  h = detail::mix64(h ^ (a + 0x632BE59BD9B4E019ULL));
  return detail::mix64(h ^ (b + 0x8CB92BA72F3D8DD7ULL));
}

}  // namespace derm
