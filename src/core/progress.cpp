#include "derm/core/progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace derm {

std::string format_duration(double seconds) {
  if (seconds < 0 || seconds != seconds) return "?";
  const auto s = static_cast<long long>(seconds + 0.5);
  char text[32];
  if (s >= 3600) {
    std::snprintf(text, sizeof text, "%lldh%02lldm", s / 3600, (s % 3600) / 60);
  } else if (s >= 60) {
    std::snprintf(text, sizeof text, "%lldm%02llds", s / 60, s % 60);
  } else {
    std::snprintf(text, sizeof text, "%llds", s);
  }
  return text;
}

Progress::Progress(std::string label, std::int64_t total, bool quiet)
    : label_(std::move(label)),
      total_(total),
      quiet_(quiet),
      tty_(::isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()),
      last_print_(start_) {}

Progress::~Progress() { finish(); }

void Progress::advance(std::int64_t n) {
  done_ += n;
  if (quiet_) return;
  const auto now = std::chrono::steady_clock::now();
  const auto interval = tty_ ? std::chrono::milliseconds(250) : std::chrono::milliseconds(5000);
  std::unique_lock<std::mutex> lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock() || now - last_print_ < interval) return;
  last_print_ = now;
  print(false);
}

void Progress::set_note(const std::string& note) {
  std::lock_guard<std::mutex> lock(mutex_);
  note_ = note;
}

void Progress::finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) return;
  finished_ = true;
  if (!quiet_) print(true);
}

void Progress::print(bool final_line) {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const std::int64_t done = done_.load();
  const double rate = elapsed > 0 ? done / elapsed : 0.0;
  char line[256];
  if (final_line) {
    std::snprintf(line, sizeof line, "%s: %lld done in %s (%.1f items/s)", label_.c_str(),
                  static_cast<long long>(done), format_duration(elapsed).c_str(), rate);
  } else if (total_ > 0) {
    const double eta = rate > 0 ? (total_ - done) / rate : -1;
    std::snprintf(line, sizeof line, "%s: %lld/%lld (%.1f%%) %.1f items/s ETA %s", label_.c_str(),
                  static_cast<long long>(done), static_cast<long long>(total_),
                  100.0 * done / total_, rate, format_duration(eta).c_str());
  } else {
    std::snprintf(line, sizeof line, "%s: %lld %.1f items/s", label_.c_str(),
                  static_cast<long long>(done), rate);
  }
  std::string text = line;
  if (!note_.empty()) text += "  " + note_;
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s%s", text.c_str(), final_line ? "\n" : "");
  } else {
    std::fprintf(stderr, "%s\n", text.c_str());
  }
  std::fflush(stderr);
}

}  // namespace derm
