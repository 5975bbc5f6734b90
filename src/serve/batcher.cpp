#include "batcher.hpp"

#include <algorithm>

namespace derm::detail {

Batcher::Batcher(Classifier& classifier, Settings settings, ServiceMetrics& metrics)
    : classifier_(classifier), settings_(std::move(settings)), metrics_(metrics), thread_([this] { run(); }) {}

Batcher::~Batcher() {
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  arrived_.notify_all();
  thread_.join();
}

std::optional<std::future<ClassifyResult>> Batcher::submit(cv::Mat rgb, std::string name, std::string heatmap_class,
                                                           std::shared_ptr<std::atomic<bool>> abandoned) {
  std::future<ClassifyResult> future;
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (queue_.size() >= settings_.max_queue) return std::nullopt;
    Job& job = queue_.emplace_back();
    job.rgb = std::move(rgb);
    job.name = std::move(name);
    job.heatmap_class = std::move(heatmap_class);
    job.abandoned = std::move(abandoned);
    job.arrived = std::chrono::steady_clock::now();
    future = job.answer.get_future();
  }
  arrived_.notify_one();
  return future;
}

std::size_t Batcher::depth() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size();
}

void Batcher::run() {
  for (;;) {
    std::vector<Job> batch;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      arrived_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to answer
      // The first image waits at most max_wait for others to share its batch.
      arrived_.wait_until(lock, queue_.front().arrived + settings_.max_wait,
                          [&] { return stopping_ || queue_.size() >= settings_.max_batch; });
      const std::size_t taken = std::min(queue_.size(), settings_.max_batch);
      for (std::size_t k = 0; k < taken; ++k) {
        if (!queue_.front().abandoned->load()) batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    if (!batch.empty()) answer(batch);
  }
}

void Batcher::answer(std::vector<Job>& batch) {
  try {
    std::vector<cv::Mat> images;
    std::vector<std::string> names;
    for (const Job& job : batch) {
      images.push_back(job.rgb);
      names.push_back(job.name);
    }
    const Predictions predictions = classifier_.classify(images, names);
    metrics_.observe_batch(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
      Job& job = batch[i];
      try {
        ClassifyResult result = make_result(classifier_, {job.name}, {""}, predictions.image(i), 1);
        if (!job.heatmap_class.empty()) {
          add_heatmaps(result, classifier_, {job.rgb}, job.heatmap_class, settings_.heatmap_layer);
        }
        job.answer.set_value(std::move(result));
      } catch (...) {
        job.answer.set_exception(std::current_exception());
      }
    }
  } catch (...) {
    for (Job& job : batch) job.answer.set_exception(std::current_exception());
  }
}

}  // namespace derm::detail
