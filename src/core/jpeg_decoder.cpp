#include "jpeg_decoder.hpp"

#include <csetjmp>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include <jpeglib.h>
#include <jerror.h>
#include <opencv2/core.hpp>

#include "derm/core/error.hpp"

namespace derm {
namespace {

constexpr int kMaxScans = 500;  // libjpeg-turbo's advice against scan floods

struct ErrorManager {
  jpeg_error_mgr pub;  // first member: libjpeg holds a jpeg_error_mgr*
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool data_damaged;
};

struct ScanMonitor {
  jpeg_progress_mgr pub;  // first member: libjpeg holds a jpeg_progress_mgr*
  unsigned components_seen;  // bit c: component c was in a scan
};

ErrorManager& errors_of(j_common_ptr info) { return *reinterpret_cast<ErrorManager*>(info->err); }

[[noreturn]] void stop_decoding(j_common_ptr info) { std::longjmp(errors_of(info).jump, 1); }

void on_error(j_common_ptr info) {
  info->err->format_message(info, errors_of(info).message);
  stop_decoding(info);
}

// The warnings that mean data is missing or damaged (libjpeg would fill in
// grey) stop the decoding. Others, such as extraneous bytes before a marker,
// which some cameras write, leave the pixels intact and are ignored.
void on_message(j_common_ptr info, int level) {
  if (level != -1) return;  // trace messages
  switch (info->err->msg_code) {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_MUST_RESYNC:
    case JWRN_BOGUS_PROGRESSION:
      errors_of(info).data_damaged = true;
      info->err->format_message(info, errors_of(info).message);
      stop_decoding(info);
    default:
      return;
  }
}

// Called at least once per scan while it is read: notes its components.
void on_progress(j_common_ptr common) {
  auto* info = reinterpret_cast<j_decompress_ptr>(common);
  auto* monitor = reinterpret_cast<ScanMonitor*>(info->progress);
  for (int i = 0; i < info->comps_in_scan; ++i) {
    monitor->components_seen |= 1u << info->cur_comp_info[i]->component_index;
  }
  if (info->input_scan_number > kMaxScans) {
    errors_of(common).data_damaged = true;
    std::snprintf(errors_of(common).message, JMSG_LENGTH_MAX, "more than %d scans", kMaxScans);
    stop_decoding(common);
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

// The EXIF orientation (1-8) as OpenCV reads it: from the first APP1 marker
// before the first scan, its TIFF block after 6 bytes ("Exif\0\0" unchecked),
// little-endian for "II" and big-endian otherwise; 1 when absent or unreadable.
// (OpenCV also gives up at an earlier entry of a tag it parses, such as Make,
// whose data lies outside the block; that is not followed here.)
int exif_orientation(const jpeg_decompress_struct& info) {
  jpeg_saved_marker_ptr marker = info.marker_list;
  while (marker != nullptr && marker->marker != JPEG_APP0 + 1) marker = marker->next;
  if (marker == nullptr || marker->data_length < 6 + 8) return 1;
  const unsigned char* tiff = marker->data + 6;
  const std::size_t size = marker->data_length - 6;
  const bool little_endian = tiff[0] == 'I' && tiff[1] == 'I';
  const auto u16 = [&](std::size_t at) -> std::size_t {
    return little_endian ? tiff[at] | tiff[at + 1] << 8 : tiff[at] << 8 | tiff[at + 1];
  };
  const auto u32 = [&](std::size_t at) -> std::size_t {
    return little_endian ? u16(at) | u16(at + 2) << 16 : u16(at) << 16 | u16(at + 2);
  };
  if (u16(2) != 42) return 1;
  const std::size_t ifd = u32(4);  // at most 2^32 - 1: the sums below cannot wrap
  if (ifd + 2 > size) return 1;
  const std::size_t entries = u16(ifd);
  for (std::size_t i = 0; i < entries; ++i) {
    const std::size_t entry = ifd + 2 + 12 * i;
    if (entry + 10 > size) return 1;  // tag, type, count and a SHORT value
    if (u16(entry) == 0x0112) {
      const std::size_t orientation = u16(entry + 8);
      return orientation >= 1 && orientation <= 8 ? static_cast<int>(orientation) : 1;
    }
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

// libjpeg's CMYK (Adobe's inverted convention) to RGB, as OpenCV converts it.
void cmyk_row_to_rgb(const unsigned char* cmyk, unsigned char* rgb, int width) {
  for (int x = 0; x < width; ++x, cmyk += 4, rgb += 3) {
    const int k = cmyk[3];
    for (int c = 0; c < 3; ++c) rgb[c] = static_cast<unsigned char>(k - ((255 - cmyk[c]) * k >> 8));
  }
}

// What libjpeg decoded without error may still lack data it never reported:
// a component no scan covered, or coefficients a progression left unfinished
// (a file cut at a scan boundary), or rows. nullptr when complete; no object to
// destroy, as the caller goes on calling libjpeg.
const char* missing_data(const jpeg_decompress_struct& info, unsigned components_seen) {
  if (info.output_scanline < info.output_height) return "fewer rows than its header declares";
  if (components_seen != (1u << info.num_components) - 1) return "a colour component has no scan";
  if (info.progressive_mode) {
    for (int c = 0; c < info.num_components; ++c) {
      for (int k = 0; k < DCTSIZE2; ++k) {
        if (info.coef_bits[c][k] != 0) return "the progression stops before the last scan";
      }
    }
  }
  return nullptr;
}

}  // namespace

cv::Mat decode_jpeg(const std::string& bytes, const std::filesystem::path& path, std::int64_t max_pixels) {
  const std::string name = path.string() + ": ";
  if (bytes.size() < 3 || bytes[2] != '\xFF') throw Error(name + "corrupt JPEG (no marker after start of image)");
  jpeg_decompress_struct info{};
  ErrorManager errors{};
  ScanMonitor monitor{};
  info.err = jpeg_std_error(&errors.pub);
  errors.pub.error_exit = on_error;
  errors.pub.emit_message = on_message;
  monitor.pub.progress_monitor = on_progress;
  DecompressGuard guard{info};
  cv::Mat image;
  std::vector<unsigned char> cmyk_row;
  int orientation = 1;
  std::string refusal;  // the message when a check of this function's own stops the decoding
  const bool decoded = decoded_without_error(errors, [&] {
    jpeg_create_decompress(&info);
    info.progress = &monitor.pub;
    jpeg_mem_src(&info, reinterpret_cast<const unsigned char*>(bytes.data()),
                 static_cast<unsigned long>(bytes.size()));
    jpeg_save_markers(&info, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&info, TRUE);
    if (info.arith_code) {
      // libjpeg fills missing arithmetic-coded data with zeros without a warning.
      refusal = "arithmetic-coded JPEG: its data cannot be checked for damage (re-encode it with Huffman coding)";
      return;
    }
    if (std::int64_t{info.image_width} * info.image_height > max_pixels) {
      refusal = "image too large (" + std::to_string(info.image_width) + "x" + std::to_string(info.image_height) + ")";
      return;
    }
    orientation = exif_orientation(info);
    const int channels = info.num_components == 1 ? 1 : info.num_components == 4 ? 4 : 3;
    info.out_color_space = channels == 1 ? JCS_GRAYSCALE : channels == 4 ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(&info);
    const int width = static_cast<int>(info.output_width);
    try {
      image.create(static_cast<int>(info.output_height), width, channels == 1 ? CV_8UC1 : CV_8UC3);
      if (channels == 4) cmyk_row.resize(4 * static_cast<std::size_t>(width));
    } catch (const std::exception&) {
      refusal = "cannot allocate the decoded image";
      return;
    }
    while (info.output_scanline < info.output_height) {
      unsigned char* out = image.ptr(static_cast<int>(info.output_scanline));
      JSAMPROW row = channels == 4 ? cmyk_row.data() : out;
      if (jpeg_read_scanlines(&info, &row, 1) != 1) break;
      if (channels == 4) cmyk_row_to_rgb(cmyk_row.data(), out, width);
    }
    if (const char* missing = missing_data(info, monitor.components_seen)) {
      refusal = std::string("corrupt or truncated JPEG (") + missing + ")";
      return;
    }
    jpeg_finish_decompress(&info);
  });
  if (errors.data_damaged) throw Error(name + "corrupt or truncated JPEG (" + errors.message + ")");
  if (!decoded) throw Error(name + "cannot decode JPEG (" + errors.message + ")");
  if (!refusal.empty()) throw Error(name + refusal);
  return oriented(image, orientation);
}

}  // namespace derm
