#pragma once
// Internal: derm-serve's counters and histograms, in Prometheus text format.
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace derm::detail {

class ServiceMetrics {
 public:
  void count_request(const std::string& route, int status, double seconds);
  void observe_batch(std::size_t images);
  // Prometheus exposition format 0.0.4.
  std::string text(std::size_t queue_depth, bool ready) const;

 private:
  struct Histogram {
    std::vector<double> bounds;
    std::vector<std::uint64_t> counts;  // per bound, not cumulative; one more for +Inf
    double sum = 0;
    std::uint64_t count = 0;
    explicit Histogram(std::vector<double> upper_bounds);
    void observe(double value);
    void write(std::string& out, const std::string& name) const;
  };

  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, std::uint64_t> requests_;  // (route, status)
  Histogram latency_{{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}};
  Histogram batch_size_{{1, 2, 4, 8, 16, 32, 64}};
  std::uint64_t images_classified_ = 0;
};

}  // namespace derm::detail
