#include "service_metrics.hpp"

#include <cstdio>

namespace derm::detail {

ServiceMetrics::Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds(std::move(upper_bounds)), counts(bounds.size() + 1, 0) {}

void ServiceMetrics::Histogram::observe(double value) {
  std::size_t bucket = 0;
  while (bucket < bounds.size() && value > bounds[bucket]) ++bucket;
  ++counts[bucket];
  sum += value;
  ++count;
}

void ServiceMetrics::Histogram::write(std::string& out, const std::string& name) const {
  char line[160];
  std::uint64_t cumulative = 0;
  for (std::size_t b = 0; b < bounds.size(); ++b) {
    cumulative += counts[b];
    std::snprintf(line, sizeof line, "%s_bucket{le=\"%g\"} %llu\n", name.c_str(), bounds[b],
                  static_cast<unsigned long long>(cumulative));
    out += line;
  }
  std::snprintf(line, sizeof line, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name.c_str(),
                static_cast<unsigned long long>(count), name.c_str(), sum, name.c_str(),
                static_cast<unsigned long long>(count));
  out += line;
}

void ServiceMetrics::count_request(const std::string& route, int status, double seconds) {
  const std::lock_guard<std::mutex> lock(mutex_);
  ++requests_[{route, status}];
  latency_.observe(seconds);
}

void ServiceMetrics::observe_batch(std::size_t images) {
  const std::lock_guard<std::mutex> lock(mutex_);
  batch_size_.observe(static_cast<double>(images));
  images_classified_ += images;
}

std::string ServiceMetrics::text(std::size_t queue_depth, bool ready) const {
  const std::lock_guard<std::mutex> lock(mutex_);
  std::string out;
  char line[200];
  out += "# HELP derm_requests_total HTTP requests answered, by route and status.\n";
  out += "# TYPE derm_requests_total counter\n";
  for (const auto& [key, count] : requests_) {
    std::snprintf(line, sizeof line, "derm_requests_total{route=\"%s\",status=\"%d\"} %llu\n", key.first.c_str(),
                  key.second, static_cast<unsigned long long>(count));
    out += line;
  }
  out += "# HELP derm_request_duration_seconds Time from a request's arrival to its answer.\n";
  out += "# TYPE derm_request_duration_seconds histogram\n";
  latency_.write(out, "derm_request_duration_seconds");
  out += "# HELP derm_batch_size Images per forward pass of the classifier.\n";
  out += "# TYPE derm_batch_size histogram\n";
  batch_size_.write(out, "derm_batch_size");
  out += "# HELP derm_images_classified_total Images classified.\n";
  out += "# TYPE derm_images_classified_total counter\n";
  out += "derm_images_classified_total " + std::to_string(images_classified_) + "\n";
  out += "# HELP derm_queue_depth Images waiting for the classifier.\n";
  out += "# TYPE derm_queue_depth gauge\n";
  out += "derm_queue_depth " + std::to_string(queue_depth) + "\n";
  out += "# HELP derm_ready Whether the model is loaded and warmed up.\n";
  out += "# TYPE derm_ready gauge\n";
  out += std::string("derm_ready ") + (ready ? "1" : "0") + "\n";
  return out;
}

}  // namespace derm::detail
