#pragma once
// Data augmentation of dermoscopy images (Gavrilov et al.: rotations, mirroring,
// cut-out of parts, stretching/compressing, lighting changes), as small
// distortion functions on 8-bit RGB images and an Augmenter that composes them.
//
// Determinism: every random value is drawn from derm's own SplitMix64 stream
// seeded by the sample seed (no std::*_distribution, whose output differs
// between standard libraries), so the drawn parameters are identical on every
// platform; the pixels are identical for the same build of OpenCV.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "derm/image.hpp"

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
CutoutFill parse_cutout_fill(const std::string& name);  // derm::Error on an unknown name
std::string to_string(CutoutFill fill);

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

  // derm::Error with a one-line message naming the parameter (and its CLI option).
  void validate() const;
  // The same for every parameter but output_size.
  void validate_distortions() const;
};

nlohmann::json to_json(const AugmentParams& params);
// Missing keys keep their defaults; unknown keys and bad values are a derm::Error.
AugmentParams augment_params_from_json(const nlohmann::json& json);

// The seed of one sample from a run seed and two indices, by SplitMix64 mixing:
// derive_seed(run_seed, epoch, sample_index) for on-the-fly training;
// derm-augment uses derive_seed(seed, 0, k) for sample k of its shards.
std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t a, std::uint64_t b);

// ---- The distortions, each on its own (8-bit RGB in, 8-bit RGB out) ----

// Exact flips (no interpolation).
cv::Mat mirror(const cv::Mat& rgb, bool horizontal, bool vertical);
// Rotation about the image centre, counter-clockwise; same size; reflected border.
cv::Mat rotate(const cv::Mat& rgb, double degrees);
// Resizes to round(width*scale_x) x round(height*scale_y): changes the aspect.
cv::Mat stretch(const cv::Mat& rgb, double scale_x, double scale_y);

struct Lighting {
  double brightness = 0.0;
  double contrast = 1.0;
  double gamma = 1.0;
  double gain[3] = {1.0, 1.0, 1.0};  // R, G, B
};
// Per-channel lookup table; the neutral Lighting{} returns an identical copy.
cv::Mat adjust_lighting(const cv::Mat& rgb, const Lighting& lighting);

// Fills each rectangle (clipped to the image) in place. noise_seed drives the
// noise fill only.
void cut_out(cv::Mat& rgb, const std::vector<cv::Rect>& rects, CutoutFill fill,
             std::uint64_t noise_seed);

// ---- The composition ----

// The random values of one sample, drawn from its seed.
struct Distortions {
  bool hflip = false;
  bool vflip = false;
  double rotation_deg = 0.0;
  double scale_x = 1.0;
  double scale_y = 1.0;
  Lighting lighting;
  std::vector<cv::Rect> cutouts;  // in output pixels; empty when not applied
  std::uint64_t noise_seed = 0;
};
// Short human-readable summary, e.g.
// "rot 127 H sx1.08 sy0.91 | b+0.03 c1.10 g0.92 | rgb 1.02/0.97/1.05 | cut 2".
std::string describe(const Distortions& distortions);

class Augmenter {
 public:
  explicit Augmenter(AugmentParams params);  // validates; derm::Error when invalid

  const AugmentParams& params() const { return params_; }

  // The random values for a seed (a fixed number of draws in a fixed order, so
  // changing one range does not change the others' values).
  Distortions draw(std::uint64_t sample_seed) const;

  // output_size x output_size RGB. Lighting (a per-pixel table, on the source),
  // then mirroring, stretch, rotation and the resize to the output as one
  // cv::warpAffine, then cut-out.
  // Deterministic for a seed; const and without shared state, so thread-safe.
  cv::Mat apply(const cv::Mat& rgb, std::uint64_t sample_seed) const;
  cv::Mat apply(const cv::Mat& rgb, const Distortions& distortions) const;

  // Shrinks a large source (area filter) to the resolution the output needs at
  // the largest stretch; returns it unchanged when already small enough.
  // apply() does this itself; apply(prepare(x), s) == apply(x, s), so a cache of
  // prepared sources saves the work without changing any output.
  cv::Mat prepare(const cv::Mat& rgb) const;
  // The side of the square a source is shrunk to by prepare(): enough for the
  // largest stretch.
  int working_side() const;

 private:
  AugmentParams params_;
};

// A grid of columns x rows tiles of tile_size pixels: the original (top left,
// labelled "original") then augmented samples (seeds derive_seed(seed, 0, i)),
// each labelled with describe(); RGB. The distortions are computed at tile size.
cv::Mat augment_contact_sheet(const cv::Mat& rgb, const AugmentParams& params, int columns,
                              int rows, int tile_size, std::uint64_t seed);

}  // namespace derm
