#pragma once
// JPEG decoding with libjpeg itself rather than through OpenCV, which decodes
// damaged data with a warning on stderr and a grey patch in the image: here a
// damaged image is an error, and libjpeg prints nothing.
#include <cstdint>
#include <filesystem>
#include <string>

#include <opencv2/core.hpp>

namespace derm {

// The image in `bytes` (a JPEG file's contents) with its EXIF orientation
// applied: RGB (CV_8UC3; CMYK and YCCK files converted as OpenCV converts
// them) or grayscale (CV_8UC1), pixel for pixel what cv::imread gives in RGB
// order. derm::Error naming `path` when the header declares more than
// `max_pixels`, for arithmetic coding (libjpeg does not report its missing
// data), when libjpeg cannot decode the data, or when parts of it are
// missing or damaged: a truncated file (even one that still ends with an
// end-of-image marker), corrupt entropy-coded data, a progression that does not
// complete every coefficient, a component without a scan, or over 500 scans.
cv::Mat decode_jpeg(const std::string& bytes, const std::filesystem::path& path, std::int64_t max_pixels);

}  // namespace derm
