#pragma once
// The distortion options shared by derm-augment and derm-train, so that both
// tools take the same parameters in the same form (ranges as MIN,MAX).
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "derm/augment/augment_params.hpp"
#include "tool_main.hpp"

namespace derm::cli {

// "MIN,MAX" or a single value (a constant); derm::OptionError naming the option.
derm::Range parse_range(const std::string& option, const std::string& text);

// Distortion options as given on the command line; only given ones override
// the defaults (or the --params file).
struct DistortionOptions {
  std::optional<std::string> resize, rotation, scale_x, scale_y, stretch, cutout_count, cutout_area,
      cutout_aspect, cutout_fill, brightness, contrast, gamma, channel_gain;
  std::optional<double> hflip, vflip, cutout_probability;
  std::optional<std::string> params_file;
  bool none = false;

  // with_resize: also --resize (derm-train has its own --resize-policy).
  // Returns the options added (for options they exclude).
  std::vector<CLI::Option*> add_to(CLI::App& app, bool with_resize = true);
  // The parameters; derm::OptionError naming an AugmentParams field for an impossible value.
  derm::AugmentParams build() const;
  // The flags of the AugmentParams fields whose names differ from them.
  static const FlagNames& flag_names();
};

}  // namespace derm::cli
