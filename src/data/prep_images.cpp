#include "prep_images.hpp"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "derm/core/atomic_file.hpp"
#include "derm/core/error.hpp"
#include "derm/core/image.hpp"
#include "derm/core/parallel.hpp"
#include "derm/core/progress.hpp"
#include "derm/data/perceptual_hash.hpp"
#include "derm/data/sha256.hpp"

namespace derm::detail {
namespace fs = std::filesystem;

namespace {

// The id as one file name, one to one: '/', '\\', ':', NUL and '%' become %XX.
std::string safe_file_name(const std::string& id) {
  static const char* const hex = "0123456789ABCDEF";
  std::string name;
  for (const char c : id) {
    if (c == '/' || c == '\\' || c == ':' || c == '\0' || c == '%') {
      const auto byte = static_cast<unsigned char>(c);
      name += {'%', hex[byte >> 4], hex[byte & 15]};
    } else {
      name += c;
    }
  }
  return name;
}

}  // namespace

fs::path cache_file(const std::string& id, const PrepOptions& options) {
  return options.cache_dir / (safe_file_name(id) + ".png");
}

namespace {

// The resized PNG copy of an image. derm::Error naming the cache file when it
// cannot be written: a failure of the run, not of the image.
fs::path write_cache_copy(const cv::Mat& rgb, const std::string& id, const PrepOptions& options) {
  const fs::path cached = cache_file(id, options);
  const cv::Mat resized = resize_to_square(rgb, options.cache_size, options.cache_policy);
  cv::Mat bgr;
  cv::cvtColor(resized, bgr, cv::COLOR_RGB2BGR);
  std::vector<unsigned char> png;
  if (!cv::imencode(".png", bgr, png)) throw Error(cached.string() + ": cannot encode PNG");
  write_file_atomically(cached, [&](std::ostream& out) {
    out.write(reinterpret_cast<const char*>(png.data()), static_cast<std::streamsize>(png.size()));
  });
  return cached;
}

// Reads, hashes and decodes one image, filling the candidate or, for a bad
// image, its error; then writes its cache copy.
void check_image(Candidate* c, const PrepOptions& options) {
  cv::Mat rgb;
  try {
    const std::string bytes = read_file(c->image.path);
    c->content_hash = sha256_hex(bytes);
    ImageReadOptions read_options;
    read_options.min_side = options.min_side;
    rgb = read_rgb_image(c->image.path, read_options);
    c->width = rgb.cols;
    c->height = rgb.rows;
    c->phash = perceptual_hash(rgb);
  } catch (const Error& e) {  // the image's fault; anything else (no memory, no thread) fails the run
    c->error = e.what();
    return;
  }
  if (!options.cache_dir.empty()) c->cache_path = write_cache_copy(rgb, c->image.id, options).string();
}

}  // namespace

void check_all(std::vector<Candidate>* candidates, const PrepOptions& options) {
  Progress progress("checking images", static_cast<std::int64_t>(candidates->size()), options.quiet);
  parallel_for(candidates->size(), options.threads, [&](std::size_t i) {
    check_image(&(*candidates)[i], options);
    progress.advance();
  });
  progress.finish();
}

}  // namespace derm::detail
