#pragma once
// The distortions of the augmentation, each on its own (8-bit RGB in, 8-bit RGB out).
#include <cstdint>
#include <vector>

#include <opencv2/core.hpp>

#include "derm/augment/augment_params.hpp"

namespace derm {

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

}  // namespace derm
