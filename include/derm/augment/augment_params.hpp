#pragma once
// The parameters of derm's augmentation (Gavrilov et al.: rotations, mirroring,
// cut-out of parts, stretching/compressing, lighting changes) and their JSON form.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "derm/core/image.hpp"

namespace derm {

// A closed interval [min, max]; a value is drawn uniformly from it.
struct Range {
  double min = 0.0;
  double max = 0.0;
};

enum class CutoutFill {
  mean,   // the image's mean colour (a neutral patch)
  noise,  // uniform random colour per pixel
  black,
};
template <>
struct EnumNames<CutoutFill> {
  static constexpr const char* what = "cut-out fill";
  static constexpr EnumName<CutoutFill> names[] = {
      {CutoutFill::mean, "mean"}, {CutoutFill::noise, "noise"}, {CutoutFill::black, "black"}};
};

// Every parameter of the augmentation; the defaults suit dermoscopy (a lesion
// has no natural orientation, so any rotation and mirroring is valid).
// A range with min == max is a constant; neutral values disable a distortion.
struct AugmentParams {
  int output_size = 700;  // output is output_size x output_size RGB
  // How a non-square source becomes square before the distortions
  // (pad fills with a reflection of the image, not black).
  ResizePolicy resize = ResizePolicy::squash;

  // Rotation about the centre, degrees counter-clockwise; corners are filled by
  // reflecting the image (BORDER_REFLECT_101), so there are no black corners.
  Range rotation_deg{0.0, 360.0};
  // Mirroring: probability of a left-right and of an up-down flip.
  double hflip_probability = 0.5;
  double vflip_probability = 0.5;
  // Stretching/compressing: independent scale factor per axis (>1 stretches),
  // applied along the image's own axes before the rotation.
  Range scale_x{0.8, 1.25};
  Range scale_y{0.8, 1.25};

  // Cut-out: with this probability, cut out a number of rectangles drawn from
  // cutout_count, each covering a fraction of the output area drawn from
  // cutout_area, with width/height ratio drawn (log-uniformly) from cutout_aspect.
  double cutout_probability = 0.5;
  Range cutout_count{1, 3};  // integers
  Range cutout_area{0.01, 0.05};
  Range cutout_aspect{0.5, 2.0};
  CutoutFill cutout_fill = CutoutFill::mean;

  // Lighting, on intensities in [0,1]: x -> x^gamma, then contrast about the
  // image's mean, plus brightness, times a per-channel gain (colour balance).
  Range brightness{-0.1, 0.1};  // added, in units of full scale
  Range contrast{0.8, 1.2};     // 1 = unchanged
  Range gamma{0.8, 1.25};       // 1 = unchanged
  Range channel_gain{0.9, 1.1}; // drawn independently for R, G and B

  // derm::OptionError naming the parameter (its field here, e.g. "rotation_deg").
  void validate() const;
  // The same for every parameter but output_size.
  void validate_distortions() const;
};

nlohmann::json to_json(const AugmentParams& params);
// Missing keys keep their defaults; unknown keys and bad values are a derm::Error
// (an OptionError naming the key for a value validate() refuses).
AugmentParams augment_params_from_json(const nlohmann::json& json);

}  // namespace derm
