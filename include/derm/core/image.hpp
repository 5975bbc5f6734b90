#pragma once
// Decoding and geometric preprocessing of dermoscopy images, shared by every
// tool (prep, augment, train, eval, classify) so that a model sees the same
// pixels in training and in the clinic.
#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "derm/core/enum_names.hpp"

namespace derm {

struct ImageReadOptions {
  int min_side = 32;                 // smaller images are rejected
  std::int64_t max_pixels = 1 << 28;  // ~268 MP: larger images are rejected
};

// Reads an image as 8-bit RGB (CV_8UC3, RGB order) with its EXIF orientation
// applied. 16-bit images are scaled to 8 bits; an alpha channel is dropped.
// Throws derm::Error naming the file for: missing or empty file, undecodable or
// truncated data, grayscale (dermoscopy needs colour), too small, too large.
cv::Mat read_rgb_image(const std::filesystem::path& path, const ImageReadOptions& options = {});
// The same for an image file's bytes (e.g. an upload); errors name `origin`.
cv::Mat decode_rgb_image(const std::string& bytes, const std::string& origin, const ImageReadOptions& options = {});

// The image files (by extension: jpg, jpeg, png, bmp, tif, tiff, webp, any
// case) under a folder, recursively, sorted; derm::Error when it is no folder.
std::vector<std::filesystem::path> image_files_in(const std::filesystem::path& folder);

// How a non-square photograph becomes the model's square input.
enum class ResizePolicy {
  squash,       // scale each axis independently (how the ISIC 2017/HAM10000 copies were made)
  center_crop,  // scale the short side to size, cut the centre square
  pad,          // scale the long side to size, pad with black
};

template <>
struct EnumNames<ResizePolicy> {
  static constexpr const char* what = "resize policy";
  static constexpr EnumName<ResizePolicy> names[] = {
      {ResizePolicy::squash, "squash"}, {ResizePolicy::center_crop, "center_crop"}, {ResizePolicy::pad, "pad"}};
  static constexpr EnumName<ResizePolicy> aliases[] = {{ResizePolicy::center_crop, "center-crop"},
                                                       {ResizePolicy::center_crop, "crop"}};
};

// Resizes an RGB image to size x size by the policy (area filter when shrinking,
// bilinear when enlarging). Returns the input itself when it already fits.
cv::Mat resize_to_square(const cv::Mat& rgb, int size, ResizePolicy policy);

// The way back for a map over a square that resize_to_square made from an image
// of `image` size (any type, e.g. a CV_32F heatmap): the map over the image
// itself, bilinear; zero where the square did not show the image (center_crop's
// cut-off sides).
cv::Mat square_to_image(const cv::Mat& square, const cv::Size& image, ResizePolicy policy);

}  // namespace derm
