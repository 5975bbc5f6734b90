#pragma once
// A small thread-safe LRU cache of prepared source images, keyed by their index
// in the split. Memory is bounded by the capacity, whatever the sample count.
// Header-only on purpose: one small class, used by the shard run alone.
#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>

#include <opencv2/core.hpp>

namespace derm::detail {

class SourceCache {
 public:
  using Image = std::shared_ptr<const cv::Mat>;

  explicit SourceCache(std::size_t capacity) : capacity_(capacity) {}

  // The cached image, or load() (called without the lock held) stored and returned.
  Image get(std::size_t key, const std::function<cv::Mat()>& load) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (const auto found = index_.find(key); found != index_.end()) {
        order_.splice(order_.begin(), order_, found->second);
        return found->second->second;
      }
    }
    Image image = std::make_shared<const cv::Mat>(load());
    if (capacity_ == 0) return image;
    std::lock_guard<std::mutex> lock(mutex_);
    if (index_.count(key) == 0) {
      order_.emplace_front(key, image);
      index_[key] = order_.begin();
      if (order_.size() > capacity_) {
        index_.erase(order_.back().first);
        order_.pop_back();
      }
    }
    return image;
  }

 private:
  std::size_t capacity_;
  std::mutex mutex_;
  std::list<std::pair<std::size_t, Image>> order_;  // most recent first
  std::unordered_map<std::size_t, std::list<std::pair<std::size_t, Image>>::iterator> index_;
};

}  // namespace derm::detail
