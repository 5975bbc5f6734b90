#pragma once
// The composition of the distortions: an Augmenter draws one sample's random
// values from its seed and applies them.
#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "derm/augment/augment_params.hpp"
#include "derm/augment/distortions.hpp"

namespace derm {

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

}  // namespace derm
