#pragma once
// Progress of long work on stderr: done/total, items/s and ETA. Thread-safe;
// silent when quiet. On a terminal one line is redrawn, elsewhere a line is
// printed every few seconds so that logs stay readable.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace derm {

class Progress {
 public:
  Progress(std::string label, std::int64_t total, bool quiet);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(std::int64_t n = 1);
  // Extra text shown after the rate, e.g. "loss 0.41".
  void set_note(const std::string& note);
  // Prints the final line (total time and mean rate).
  void finish();

  std::int64_t done() const { return done_.load(); }

 private:
  void print(bool final_line);

  std::string label_;
  std::int64_t total_;
  bool quiet_;
  bool tty_;
  bool finished_ = false;
  std::atomic<std::int64_t> done_{0};
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_print_;
  std::string note_;
  std::mutex mutex_;
};

// "1h02m", "3m05s", "12s".
std::string format_duration(double seconds);

}  // namespace derm
