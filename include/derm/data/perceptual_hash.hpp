#pragma once
// 64-bit DCT perceptual hash (pHash) for near-duplicate images: the image is
// converted to gray, resized to 32x32 (aspect ratio ignored, so a squashed copy
// matches its original), DCT-transformed, and each of the 8x8 lowest
// frequencies (DC excluded from the median) gives one bit: above the median or
// not. Re-encoded, resized or slightly recoloured copies differ in a few bits.
#include <cstdint>

#include <opencv2/core.hpp>

namespace derm {

std::uint64_t perceptual_hash(const cv::Mat& rgb);

int hamming_distance(std::uint64_t a, std::uint64_t b);

}  // namespace derm
