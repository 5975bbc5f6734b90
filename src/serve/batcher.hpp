#pragma once
// Internal: derm-serve's dynamic batching. HTTP threads submit decoded images;
// one inference thread takes up to max_batch of them at a time (waiting at most
// max_wait after the first for more), classifies them as one batch and
// answers each with its own verdict.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <opencv2/core.hpp>

#include "derm/infer/classify.hpp"
#include "service_metrics.hpp"

namespace derm::detail {

class Batcher {
 public:
  struct Settings {
    std::size_t max_batch = 8;
    std::chrono::milliseconds max_wait{10};
    std::size_t max_queue = 64;
    std::string heatmap_layer = "Mixed_7c";
  };

  Batcher(Classifier& classifier, Settings settings, ServiceMetrics& metrics);
  // Answers every image still queued, then stops the inference thread.
  ~Batcher();
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // The verdict on one image (named `name`), with the heatmap of
  // `heatmap_class` unless it is empty; nullopt when the queue is full. An
  // image whose `abandoned` flag is set when its batch is formed is skipped
  // (its requester gave up waiting).
  std::optional<std::future<ClassifyResult>> submit(cv::Mat rgb, std::string name, std::string heatmap_class,
                                                    std::shared_ptr<std::atomic<bool>> abandoned);
  std::size_t depth() const;

 private:
  struct Job {
    cv::Mat rgb;
    std::string name;
    std::string heatmap_class;
    std::shared_ptr<std::atomic<bool>> abandoned;
    std::chrono::steady_clock::time_point arrived;
    std::promise<ClassifyResult> answer;
  };

  void run();
  void answer(std::vector<Job>& batch);

  Classifier& classifier_;
  Settings settings_;
  ServiceMetrics& metrics_;
  mutable std::mutex mutex_;
  std::condition_variable arrived_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace derm::detail
