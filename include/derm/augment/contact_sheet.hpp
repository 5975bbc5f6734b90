#pragma once
// A contact sheet of augmented samples (derm-augment --preview).
#include <cstdint>

#include <opencv2/core.hpp>

#include "derm/augment/augment_params.hpp"

namespace derm {

// A grid of columns x rows tiles of tile_size pixels: the original (top left,
// labelled "original") then augmented samples (seeds derive_seed(seed, 0, i)),
// each labelled with describe(); RGB. The distortions are computed at tile size.
cv::Mat augment_contact_sheet(const cv::Mat& rgb, const AugmentParams& params, int columns,
                              int rows, int tile_size, std::uint64_t seed);

}  // namespace derm
