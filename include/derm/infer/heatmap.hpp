#pragma once
// Where the network looked: a Grad-CAM heatmap over an image, and its overlay.
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace derm {

struct Heatmap {
  std::string class_name;
  std::string layer;  // e.g. "Mixed_7c"
  // Over the image, at its size: CV_32F in [0, 1], the members' maps, each
  // normalised to a maximum of 1, averaged.
  cv::Mat map;
  // Each member's map at its layer's resolution (CV_32F, maximum 1, or all 0
  // when nothing in the layer points to the class).
  std::vector<cv::Mat> member_maps;
};

// The image (RGB, 8-bit) with the map in a colour scale (blue low, red high)
// blended over it, and a legend of the scale in its lower right corner; RGB,
// the image's size.
cv::Mat heatmap_overlay(const cv::Mat& rgb, const cv::Mat& map);

// PNG bytes of an RGB image; derm::Error when OpenCV cannot encode it.
std::string encode_png(const cv::Mat& rgb);

}  // namespace derm
