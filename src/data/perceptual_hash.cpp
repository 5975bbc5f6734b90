#include "derm/data/perceptual_hash.hpp"

#include <algorithm>
#include <bitset>
#include <vector>

#include <opencv2/imgproc.hpp>

namespace derm {

std::uint64_t perceptual_hash(const cv::Mat& rgb) {
  cv::Mat gray;
  cv::cvtColor(rgb, gray, cv::COLOR_RGB2GRAY);
  cv::Mat small;
  cv::resize(gray, small, cv::Size(32, 32), 0, 0, cv::INTER_AREA);
  small.convertTo(small, CV_32F);
  cv::Mat frequencies;
  cv::dct(small, frequencies);
  std::vector<float> low;
  for (int y = 0; y < 8; ++y) {
    for (int x = 0; x < 8; ++x) low.push_back(frequencies.at<float>(y, x));
  }
  std::vector<float> without_dc(low.begin() + 1, low.end());
  std::nth_element(without_dc.begin(), without_dc.begin() + 31, without_dc.end());
  const float median = without_dc[31];
  std::uint64_t hash = 0;
  for (std::size_t i = 0; i < low.size(); ++i) {
    if (low[i] > median) hash |= std::uint64_t{1} << i;
  }
  return hash;
}

int hamming_distance(std::uint64_t a, std::uint64_t b) {
  return static_cast<int>(std::bitset<64>(a ^ b).count());
}

}  // namespace derm
