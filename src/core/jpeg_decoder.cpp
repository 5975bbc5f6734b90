#include "jpeg_decoder.hpp"

#include <csetjmp>
#include <cstdio>
#include <cstring>

#include <jpeglib.h>
#include <jerror.h>
#include <opencv2/core.hpp>

#include "derm/error.hpp"

namespace derm {
namespace {

struct ErrorManager {
  jpeg_error_mgr pub;  // first member: libjpeg holds a jpeg_error_mgr*
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool data_damaged;
};

ErrorManager& errors_of(j_common_ptr info) { return *reinterpret_cast<ErrorManager*>(info->err); }

[[noreturn]] void on_error(j_common_ptr info) {
  info->err->format_message(info, errors_of(info).message);
  std::longjmp(errors_of(info).jump, 1);
}

// The warnings that mean data is missing or damaged (libjpeg then fills in
// grey) make the image an error. Others, such as extraneous bytes before a
// marker, which some cameras write, leave the pixels intact and are ignored.
void on_message(j_common_ptr info, int level) {
  if (level != -1) return;  // trace messages
  const int code = info->err->msg_code;
  const bool damaged = code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER || code == JWRN_HUFF_BAD_CODE ||
                       code == JWRN_MUST_RESYNC;
  if (damaged && !errors_of(info).data_damaged) {
    errors_of(info).data_damaged = true;
    info->err->format_message(info, errors_of(info).message);
  }
}

// libjpeg's errors longjmp back here. This frame holds nothing to destroy, and
// `decode` must hold nothing to destroy while it calls libjpeg.
template <class Decode>
bool decoded_without_error(ErrorManager& errors, const Decode& decode) {
  if (setjmp(errors.jump) != 0) return false;
  decode();
  return true;
}

struct DecompressGuard {
  jpeg_decompress_struct& info;
  ~DecompressGuard() { jpeg_destroy_decompress(&info); }
};

// The orientation tag (1-8) of the first EXIF block, 1 when there is none.
int exif_orientation(const jpeg_decompress_struct& info) {
  for (jpeg_saved_marker_ptr marker = info.marker_list; marker != nullptr; marker = marker->next) {
    if (marker->marker != JPEG_APP0 + 1 || marker->data_length < 14 ||
        std::memcmp(marker->data, "Exif\0\0", 6) != 0) {
      continue;
    }
    const unsigned char* tiff = marker->data + 6;
    const std::size_t size = marker->data_length - 6;
    const bool little_endian = tiff[0] == 'I' && tiff[1] == 'I';
    if (!little_endian && !(tiff[0] == 'M' && tiff[1] == 'M')) return 1;
    const auto u16 = [&](std::size_t at) -> unsigned {
      return little_endian ? tiff[at] | tiff[at + 1] << 8 : tiff[at] << 8 | tiff[at + 1];
    };
    const auto u32 = [&](std::size_t at) -> std::size_t {
      return little_endian ? u16(at) | std::size_t{u16(at + 2)} << 16 : std::size_t{u16(at)} << 16 | u16(at + 2);
    };
    const std::size_t ifd = u32(4);
    if (ifd + 2 > size) return 1;
    const unsigned entries = u16(ifd);
    for (unsigned i = 0; i < entries; ++i) {
      const std::size_t entry = ifd + 2 + 12 * std::size_t{i};
      if (entry + 12 > size) return 1;
      if (u16(entry) == 0x0112) {
        const unsigned orientation = u16(entry + 8);
        return orientation >= 1 && orientation <= 8 ? static_cast<int>(orientation) : 1;
      }
    }
    return 1;
  }
  return 1;
}

// As OpenCV applies it (imgcodecs' ApplyExifOrientation).
cv::Mat oriented(const cv::Mat& image, int orientation) {
  cv::Mat out;
  switch (orientation) {
    case 2: cv::flip(image, out, 1); return out;
    case 3: cv::flip(image, out, -1); return out;
    case 4: cv::flip(image, out, 0); return out;
    case 5: cv::transpose(image, out); return out;
    case 6: cv::transpose(image, out); cv::flip(out, out, 1); return out;
    case 7: cv::transpose(image, out); cv::flip(out, out, -1); return out;
    case 8: cv::transpose(image, out); cv::flip(out, out, 0); return out;
    default: return image;
  }
}

}  // namespace

std::optional<cv::Mat> decode_jpeg(const std::string& bytes, const std::filesystem::path& path) {
  jpeg_decompress_struct info{};
  ErrorManager errors{};
  info.err = jpeg_std_error(&errors.pub);
  errors.pub.error_exit = on_error;
  errors.pub.emit_message = on_message;
  DecompressGuard guard{info};
  cv::Mat image;
  bool four_channels = false;
  int orientation = 1;
  const bool ok = decoded_without_error(errors, [&] {
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, reinterpret_cast<const unsigned char*>(bytes.data()),
                 static_cast<unsigned long>(bytes.size()));
    jpeg_save_markers(&info, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&info, TRUE);
    if (info.num_components == 4) {
      four_channels = true;
      return;
    }
    const bool grayscale = info.num_components == 1;
    info.out_color_space = grayscale ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&info);
    image.create(static_cast<int>(info.output_height), static_cast<int>(info.output_width),
                 grayscale ? CV_8UC1 : CV_8UC3);
    while (info.output_scanline < info.output_height) {
      JSAMPROW row = image.ptr(static_cast<int>(info.output_scanline));
      jpeg_read_scanlines(&info, &row, 1);
    }
    orientation = exif_orientation(info);
    jpeg_finish_decompress(&info);
  });
  if (!ok) throw Error(path.string() + ": cannot decode JPEG (" + errors.message + ")");
  if (errors.data_damaged) throw Error(path.string() + ": corrupt or truncated JPEG (" + errors.message + ")");
  if (four_channels) return std::nullopt;
  return oriented(image, orientation);
}

}  // namespace derm
