#include "test_support.hpp"

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace derm::testing {
namespace fs = std::filesystem;

TempDir::TempDir() {
  std::random_device rd;
  for (int attempt = 0; attempt < 100; ++attempt) {
    const fs::path candidate =
        fs::temp_directory_path() / ("derm-test-" + std::to_string(rd()) + std::to_string(attempt));
    if (fs::create_directory(candidate)) {
      path_ = candidate;
      return;
    }
  }
  throw std::runtime_error("cannot create a temporary folder");
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::optional<fs::path> data_dir() {
  if (const char* env = std::getenv("DERM_DATA_DIR"); env && *env) {
    if (fs::is_directory(env)) return fs::path(env);
    return std::nullopt;
  }
  const fs::path beside = fs::path(DERM_SOURCE_DIR) / ".." / "shared" / "data";
  if (fs::is_directory(beside / "isic2017")) return fs::canonical(beside);
  return std::nullopt;
}

cv::Mat read_with_opencv_rgb(const std::filesystem::path& path) {
  const cv::Mat bgr = cv::imread(path.string(), cv::IMREAD_ANYDEPTH | cv::IMREAD_ANYCOLOR);
  cv::Mat rgb;
  if (!bgr.empty()) cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return rgb;
}

bool identical_images(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && (a.empty() || cv::norm(a, b, cv::NORM_INF) == 0);
}

cv::Mat synthetic_lesion(int width, int height, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  cv::Mat image(height, width, CV_8UC3,
                cv::Scalar(200 + 30 * u(rng), 150 + 30 * u(rng), 130 + 30 * u(rng)));
  std::vector<cv::Point> outline;
  const cv::Point2d centre(width * (0.4 + 0.2 * u(rng)), height * (0.4 + 0.2 * u(rng)));
  const double radius = std::min(width, height) * (0.15 + 0.15 * u(rng));
  for (int k = 0; k < 24; ++k) {
    const double angle = 2 * CV_PI * k / 24;
    const double r = radius * (0.75 + 0.5 * u(rng));
    outline.emplace_back(static_cast<int>(centre.x + r * std::cos(angle)),
                         static_cast<int>(centre.y + r * std::sin(angle)));
  }
  cv::fillPoly(image, std::vector<std::vector<cv::Point>>{outline},
               cv::Scalar(90 + 40 * u(rng), 50 + 30 * u(rng), 40 + 30 * u(rng)), cv::LINE_AA);
  cv::GaussianBlur(image, image, cv::Size(0, 0), 1.0 + std::min(width, height) / 200.0);
  cv::Mat noise(image.size(), CV_8UC3);
  cv::randn(noise, cv::Scalar::all(0), cv::Scalar::all(4));
  cv::add(image, noise, image, cv::noArray(), CV_8UC3);
  return image;
}

fs::path write_rgb(const fs::path& path, const cv::Mat& rgb) {
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  if (!cv::imwrite(path.string(), bgr)) throw std::runtime_error("cannot write " + path.string());
  return path;
}

fs::path tool_path(const std::string& name) { return fs::path(DERM_TOOLS_DIR) / name / name; }

namespace {
std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}
}  // namespace

int run_command(const std::string& command, std::string* out, std::string* err) {
  TempDir capture;
  const fs::path out_path = capture / "stdout";
  const fs::path err_path = capture / "stderr";
  const std::string full = command + " >" + out_path.string() + " 2>" + err_path.string() + " </dev/null";
  const int status = std::system(full.c_str());
  if (out) *out = slurp(out_path);
  if (err) *err = slurp(err_path);
  if (status == -1) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace derm::testing
