// A labelled grid of augmented samples, so that a person can see what the
// distortions do (derm-augment --preview).
#include <sstream>

#include <opencv2/imgproc.hpp>

#include "derm/augment/contact_sheet.hpp"
#include "derm/augment/augmenter.hpp"
#include "derm/augment/sample_seed.hpp"
#include "derm/core/error.hpp"

namespace derm {

namespace {

// Text lines at the bottom of a tile, white on a dark band.
void label_tile(cv::Mat& tile, const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream parts(text);
  for (std::string line; std::getline(parts, line, '|');) {
    const auto first = line.find_first_not_of(' ');
    const auto last = line.find_last_not_of(' ');
    if (first != std::string::npos) lines.push_back(line.substr(first, last - first + 1));
  }
  const double scale = std::max(0.3, tile.cols / 600.0);
  const int line_height = static_cast<int>(22 * scale) + 2;
  const int band = line_height * static_cast<int>(lines.size()) + 4;
  cv::Mat region = tile(cv::Rect(0, std::max(0, tile.rows - band), tile.cols, std::min(band, tile.rows)));
  region *= 0.35;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const cv::Point origin(3, tile.rows - band + line_height * static_cast<int>(i + 1));
    cv::putText(tile, lines[i], origin, cv::FONT_HERSHEY_SIMPLEX, scale, cv::Scalar(255, 255, 255),
                1, cv::LINE_AA);
  }
}

}  // namespace

cv::Mat augment_contact_sheet(const cv::Mat& rgb, const AugmentParams& params, int columns,
                              int rows, int tile_size, std::uint64_t seed) {
  if (columns < 1 || rows < 1 || columns * rows > 400) {
    throw Error("contact sheet: grid must be between 1x1 and 400 tiles, got " +
                std::to_string(columns) + "x" + std::to_string(rows));
  }
  AugmentParams tile_params = params;
  tile_params.output_size = tile_size;
  const Augmenter augmenter(tile_params);  // validates tile_size too
  const cv::Mat source = augmenter.prepare(rgb);

  const int gap = 4;
  cv::Mat sheet(rows * tile_size + (rows + 1) * gap, columns * tile_size + (columns + 1) * gap,
                CV_8UC3, cv::Scalar::all(255));
  for (int index = 0; index < rows * columns; ++index) {
    cv::Mat tile;
    std::string label;
    if (index == 0) {
      tile = resize_to_square(source, tile_size, params.resize).clone();
      label = "original";
    } else {
      const Distortions d = augmenter.draw(derive_seed(seed, 0, static_cast<std::uint64_t>(index)));
      tile = augmenter.apply(source, d);
      label = "#" + std::to_string(index) + " " + describe(d);
    }
    label_tile(tile, label);
    const int x = gap + (index % columns) * (tile_size + gap);
    const int y = gap + (index / columns) * (tile_size + gap);
    tile.copyTo(sheet(cv::Rect(x, y, tile_size, tile_size)));
  }
  return sheet;
}

}  // namespace derm
