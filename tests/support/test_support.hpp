#pragma once
// Shared helpers of the derm tests: temporary folders, the real-data folder,
// synthetic lesion-like images.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <opencv2/core.hpp>

namespace derm::testing {

// A fresh folder under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// $DERM_DATA_DIR, else ../shared/data beside the source tree; nullopt when absent.
std::optional<std::filesystem::path> data_dir();

// A skin-coloured background with a darker irregular blob, 8-bit RGB.
cv::Mat synthetic_lesion(int width, int height, std::uint64_t seed);

// Writes an RGB image (converted to BGR for OpenCV); returns the path.
std::filesystem::path write_rgb(const std::filesystem::path& path, const cv::Mat& rgb);

// An image as OpenCV's own decoders read it (cv::imread, EXIF orientation
// applied), in RGB order: the reference for derm's decoding.
cv::Mat read_with_opencv_rgb(const std::filesystem::path& path);

// Same size, type and every value.
bool identical_images(const cv::Mat& a, const cv::Mat& b);

// Absolute path of a built tool, e.g. tool_path("derm-classify").
std::filesystem::path tool_path(const std::string& name);

// Runs a shell command; returns its exit code and fills stdout/stderr text.
int run_command(const std::string& command, std::string* out = nullptr, std::string* err = nullptr);

}  // namespace derm::testing

// Skips the current test with a clear message when the real data is absent.
#define DERM_REQUIRE_DATA(dir_var)                                                      \
  const auto dir_var##_opt = ::derm::testing::data_dir();                               \
  if (!dir_var##_opt) GTEST_SKIP() << "real ISIC data not found: set DERM_DATA_DIR or " \
                                      "place it at ../shared/data";                     \
  const std::filesystem::path dir_var = *dir_var##_opt
