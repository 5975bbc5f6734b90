#include "derm/core/image.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <optional>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "derm/core/atomic_file.hpp"
#include "derm/core/error.hpp"
#include "jpeg_decoder.hpp"

namespace derm {
namespace fs = std::filesystem;

namespace {

// A file's first bytes (zeros past its end): enough for the signatures and the PNG header.
using FileHead = std::array<unsigned char, 24>;

FileHead head_of(const std::string& bytes) {
  FileHead head{};
  std::copy_n(bytes.begin(), std::min(bytes.size(), head.size()), head.begin());
  return head;
}

bool has_jpeg_signature(const FileHead& head) { return head[0] == 0xFF && head[1] == 0xD8; }

// PNG, BMP, TIFF or WebP, the other formats derm reads (by OpenCV).
bool has_other_image_signature(const FileHead& h) {
  const auto at = [&](std::size_t offset, const char* signature) {
    return std::memcmp(h.data() + offset, signature, std::strlen(signature)) == 0;
  };
  return at(0, "\x89PNG") || at(0, "BM") || at(0, "II*") || at(0, "MM") || (at(0, "RIFF") && at(8, "WEBP"));
}

// The size a PNG's IHDR chunk declares, read before decoding so that a small
// file claiming a huge image is refused without allocating it (decode_jpeg
// does the same for JPEGs); nullopt for other formats.
std::optional<cv::Size> declared_png_size(const FileHead& header) {
  if (header[0] != 0x89 || header[1] != 'P') return std::nullopt;
  const auto big_endian = [&](int at) {
    return std::int64_t{header[at]} << 24 | header[at + 1] << 16 | header[at + 2] << 8 | header[at + 3];
  };
  const std::int64_t width = big_endian(16);  // after the signature (8), IHDR's length and type (8)
  const std::int64_t height = big_endian(20);
  if (width <= 0 || height <= 0 || width > INT32_MAX || height > INT32_MAX) return std::nullopt;
  return cv::Size(static_cast<int>(width), static_cast<int>(height));
}

std::string size_text(const cv::Size& size) { return std::to_string(size.width) + "x" + std::to_string(size.height); }

}  // namespace

cv::Mat read_rgb_image(const fs::path& path, const ImageReadOptions& options) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(path.string() + ": no such file");
  if (fs::is_directory(path, ec)) throw Error(path.string() + ": is a folder, not an image");
  return decode_rgb_image(read_file(path), path.string(), options);
}

cv::Mat decode_rgb_image(const std::string& bytes, const std::string& origin, const ImageReadOptions& options) {
  const std::string where = origin + ": ";
  if (bytes.empty()) throw Error(where + "empty file");
  const FileHead head = head_of(bytes);
  if (const auto size = declared_png_size(head); size && std::int64_t{size->width} * size->height > options.max_pixels) {
    throw Error(where + "image too large (" + size_text(*size) + ")");
  }

  cv::Mat image;
  const bool jpeg = has_jpeg_signature(head);  // decoded in RGB order; OpenCV's decoders give BGR(A)
  if (jpeg) {
    image = decode_jpeg(bytes, origin, options.max_pixels);
  } else {
    if (!has_other_image_signature(head)) throw Error(where + "not an image in a format derm can read");
    // ANYDEPTH|ANYCOLOR keeps 16-bit and grayscale visible (to convert or reject)
    // while still applying the EXIF orientation, which IMREAD_UNCHANGED would skip.
    try {
      const cv::Mat encoded(1, static_cast<int>(bytes.size()), CV_8U, const_cast<char*>(bytes.data()));
      image = cv::imdecode(encoded, cv::IMREAD_ANYDEPTH | cv::IMREAD_ANYCOLOR);
    } catch (const cv::Exception& e) {
      throw Error(where + "cannot decode image (" + e.err + ")");
    }
    if (image.empty()) throw Error(where + "cannot decode image (corrupt or truncated)");
  }
  if (image.channels() == 1) {
    throw Error(where + "grayscale image; dermoscopy classification needs colour");
  }
  if (static_cast<std::int64_t>(image.cols) * image.rows > options.max_pixels) {
    throw Error(where + "image too large (" + size_text(image.size()) + ")");
  }
  if (image.cols < options.min_side || image.rows < options.min_side) {
    throw Error(where + "image too small (" + size_text(image.size()) + ", minimum " +
                std::to_string(options.min_side) + " px a side)");
  }
  if (image.depth() == CV_16U) {
    image.convertTo(image, CV_8U, 1.0 / 257.0);
  } else if (image.depth() != CV_8U) {
    cv::Mat scaled;
    cv::normalize(image, scaled, 0, 255, cv::NORM_MINMAX, CV_8U);
    image = scaled;
  }
  if (jpeg) return image;
  cv::Mat rgb;
  cv::cvtColor(image, rgb, image.channels() == 4 ? cv::COLOR_BGRA2RGB : cv::COLOR_BGR2RGB);
  return rgb;
}

std::vector<fs::path> image_files_in(const fs::path& folder) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) throw Error(folder.string() + ": no such image folder");
  static const char* const kExtensions[] = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"};
  std::vector<fs::path> paths;
  for (const auto& item : fs::recursive_directory_iterator(folder)) {
    // A broken link is listed, so that reading it fails with its name.
    if (item.is_directory()) continue;
    std::string extension = item.path().extension().string();
    std::transform(extension.begin(), extension.end(), extension.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (const char* known : kExtensions) {
      if (extension == known) paths.push_back(item.path());
    }
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

namespace {

cv::Mat resize_exact(const cv::Mat& image, int width, int height) {
  if (image.cols == width && image.rows == height) return image;
  const bool shrinking = width * height < image.cols * image.rows;
  cv::Mat out;
  cv::resize(image, out, cv::Size(width, height), 0, 0,
             shrinking ? cv::INTER_AREA : cv::INTER_LINEAR);
  return out;
}

// Where an image of `image` size lies in the square of side `size`: its scaled
// size, and its offset (negative where the square cuts it off).
cv::Rect placement(const cv::Size& image, int size, ResizePolicy policy) {
  switch (policy) {
    case ResizePolicy::squash:
      return {0, 0, size, size};
    case ResizePolicy::center_crop: {
      const double scale = static_cast<double>(size) / std::min(image.width, image.height);
      const int w = std::max(size, static_cast<int>(std::lround(image.width * scale)));
      const int h = std::max(size, static_cast<int>(std::lround(image.height * scale)));
      return {-((w - size) / 2), -((h - size) / 2), w, h};
    }
    case ResizePolicy::pad: {
      const double scale = static_cast<double>(size) / std::max(image.width, image.height);
      const int w = std::min(size, std::max(1, static_cast<int>(std::lround(image.width * scale))));
      const int h = std::min(size, std::max(1, static_cast<int>(std::lround(image.height * scale))));
      return {(size - w) / 2, (size - h) / 2, w, h};
    }
  }
  return {0, 0, size, size};
}

}  // namespace

cv::Mat square_to_image(const cv::Mat& square, const cv::Size& image, ResizePolicy policy) {
  const int size = square.cols;
  const cv::Rect at = placement(image, size, policy);
  // The square's pixels over the scaled image (zeros where it does not reach), then back to the image's size.
  cv::Mat scaled(at.size(), square.type(), cv::Scalar::all(0));
  const cv::Rect shown = cv::Rect(at.x, at.y, at.width, at.height) & cv::Rect(0, 0, size, size);
  square(shown).copyTo(scaled(cv::Rect(shown.x - at.x, shown.y - at.y, shown.width, shown.height)));
  cv::Mat out;
  cv::resize(scaled, out, image, 0, 0, cv::INTER_LINEAR);
  return out;
}

cv::Mat resize_to_square(const cv::Mat& rgb, int size, ResizePolicy policy) {
  if (size <= 0) throw Error("resize: size must be positive, got " + std::to_string(size));
  if (rgb.cols == size && rgb.rows == size) return rgb;
  const cv::Rect at = placement(rgb.size(), size, policy);
  const cv::Mat scaled = resize_exact(rgb, at.width, at.height);
  switch (policy) {
    case ResizePolicy::squash:
      return scaled;
    case ResizePolicy::center_crop:
      return scaled(cv::Rect(-at.x, -at.y, size, size)).clone();
    case ResizePolicy::pad: {
      cv::Mat out(size, size, rgb.type(), cv::Scalar::all(0));
      scaled.copyTo(out(at));
      return out;
    }
  }
  return rgb;
}

}  // namespace derm
