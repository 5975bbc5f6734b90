#pragma once
// JPEG decoding with libjpeg itself rather than through OpenCV, which decodes
// damaged data with a warning on stderr and a grey patch in the image: here a
// damaged image is an error, and libjpeg prints nothing.
#include <filesystem>
#include <optional>
#include <string>

#include <opencv2/core.hpp>

namespace derm {

// The image in `bytes` (a JPEG file's contents) with its EXIF orientation
// applied: RGB (CV_8UC3) or grayscale (CV_8UC1), pixel for pixel what
// cv::imread gives (in RGB order). nullopt for a four-channel (CMYK or YCCK)
// JPEG, which is left to OpenCV. derm::Error naming `path` when libjpeg cannot
// decode the data, or finds parts of it missing or damaged (a truncated file,
// even one that still ends with an end-of-image marker; corrupt entropy-coded data).
std::optional<cv::Mat> decode_jpeg(const std::string& bytes, const std::filesystem::path& path);

}  // namespace derm
