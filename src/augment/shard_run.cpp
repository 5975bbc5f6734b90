// write_augmented_shards: worker threads make samples (decode, augment, JPEG)
// into a bounded reorder window; the calling thread writes them in order into
// shards, each written to a temporary file and renamed into place.
#include <chrono>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <spdlog/spdlog.h>

#include "derm/core/atomic_file.hpp"
#include "derm/core/error.hpp"
#include "derm/core/image.hpp"
#include "derm/core/parallel.hpp"
#include "derm/core/progress.hpp"
#include "derm/augment/shard_run.hpp"
#include "derm/augment/augmenter.hpp"
#include "derm/augment/sample_order.hpp"
#include "derm/augment/sample_seed.hpp"
#include "derm/augment/shard_files.hpp"
#include "derm/augment/tar.hpp"
#include "run_state.hpp"
#include "source_cache.hpp"

namespace derm {
namespace fs = std::filesystem;

namespace {

void validate(const ShardRunOptions& o) {
  if (o.out_dir.empty()) throw OptionError("out_dir", ": an output folder is required");
  if (o.samples <= 0) throw OptionError("samples", "must be positive, got " + std::to_string(o.samples));
  if (o.shard_size <= 0) throw OptionError("shard_size", "must be positive, got " + std::to_string(o.shard_size));
  if (o.threads < 1 || o.threads > 256) {
    throw OptionError("threads", "must be in [1, 256], got " + std::to_string(o.threads));
  }
  if (o.jpeg_quality < 1 || o.jpeg_quality > 100) {
    throw OptionError("jpeg_quality", "must be in [1, 100], got " + std::to_string(o.jpeg_quality));
  }
  if (o.cache_images < 0) {
    throw OptionError("cache_images", "must not be negative, got " + std::to_string(o.cache_images));
  }
  o.params.validate();
}

struct EncodedSample {
  std::vector<uchar> jpeg;
  std::string json;
};

// The samples to make, in writing order: the missing shards one after another.
class Schedule {
 public:
  Schedule(std::vector<std::int64_t> shards, int shard_size, std::int64_t samples)
      : shards_(std::move(shards)), shard_size_(shard_size), samples_(samples) {}

  std::int64_t shard_samples(std::size_t i) const {
    return std::min<std::int64_t>(shard_size_, samples_ - shards_[i] * shard_size_);
  }
  std::int64_t total() const {
    std::int64_t sum = 0;
    for (std::size_t i = 0; i < shards_.size(); ++i) sum += shard_samples(i);
    return sum;
  }
  // Only the run's last shard can be short, and it comes last, so position p
  // lies in the (p / shard_size)-th scheduled shard.
  std::int64_t sample_at(std::int64_t position) const {
    return shards_[static_cast<std::size_t>(position / shard_size_)] * shard_size_ + position % shard_size_;
  }
  const std::vector<std::int64_t>& shards() const { return shards_; }

 private:
  std::vector<std::int64_t> shards_;
  std::int64_t shard_size_;
  std::int64_t samples_;
};

// Workers take positions in order; a position more than `window` ahead of the
// writer waits, so at most `window` encoded samples are held at any time.
class Pipeline {
 public:
  Pipeline(std::int64_t total, std::int64_t window) : total_(total), window_(window) {}

  // Next position to make, or -1 when done or stopped.
  std::int64_t take() {
    std::unique_lock<std::mutex> lock(mutex_);
    can_take_.wait(lock, [&] { return stopped_ || next_ >= total_ || next_ < written_ + window_; });
    if (stopped_ || next_ >= total_) return -1;
    return next_++;
  }
  void put(std::int64_t position, EncodedSample sample) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ready_.emplace(position, std::move(sample));
    }
    can_write_.notify_all();
  }
  // The sample at the writer's position; rethrows a worker's error.
  EncodedSample pop() {
    EncodedSample sample;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      can_write_.wait(lock, [&] { return stopped_ || ready_.count(written_) > 0; });
      if (error_) std::rethrow_exception(error_);
      if (stopped_) throw Error("augmentation stopped");
      auto found = ready_.find(written_);
      sample = std::move(found->second);
      ready_.erase(found);
      ++written_;
    }
    can_take_.notify_all();
    return sample;
  }
  void fail(std::exception_ptr error) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = error;
      stopped_ = true;
    }
    can_take_.notify_all();
    can_write_.notify_all();
  }
  void stop() { fail(nullptr); }

 private:
  std::mutex mutex_;
  std::condition_variable can_take_;
  std::condition_variable can_write_;
  const std::int64_t total_;
  const std::int64_t window_;
  std::int64_t next_ = 0;
  std::int64_t written_ = 0;
  bool stopped_ = false;
  std::exception_ptr error_;
  std::map<std::int64_t, EncodedSample> ready_;
};

class SampleMaker {
 public:
  SampleMaker(const std::vector<ManifestEntry>& entries, const ShardRunOptions& options,
              const Augmenter& augmenter, detail::SourceCache& cache)
      : entries_(entries), options_(options), augmenter_(augmenter), cache_(cache),
        order_(options.seed, entries.size()) {}

  EncodedSample make(std::int64_t sample_index) {
    const std::size_t source = order_.source_of(sample_index);
    const ManifestEntry& entry = entries_[source];
    const auto image = cache_.get(source, [&] { return augmenter_.prepare(read_rgb_image(entry.path)); });
    const std::uint64_t seed = derive_seed(options_.seed, 0, static_cast<std::uint64_t>(sample_index));
    const cv::Mat rgb = augmenter_.apply(*image, seed);
    cv::cvtColor(rgb, bgr_, cv::COLOR_RGB2BGR);
    EncodedSample sample;
    if (!cv::imencode(".jpg", bgr_, sample.jpeg, {cv::IMWRITE_JPEG_QUALITY, options_.jpeg_quality})) {
      throw Error(entry.path + ": JPEG encoding of sample " + std::to_string(sample_index) + " failed");
    }
    sample.json = nlohmann::json{{"label", entry.label},
                                 {"label_index", entry.label_index},
                                 {"source_id", entry.id},
                                 {"sample_index", sample_index},
                                 {"seed", seed}}
                      .dump();
    return sample;
  }

 private:
  const std::vector<ManifestEntry>& entries_;
  const ShardRunOptions& options_;
  const Augmenter& augmenter_;
  detail::SourceCache& cache_;
  SampleOrder order_;
  cv::Mat bgr_;
};

std::map<std::string, std::int64_t> count_classes(const std::vector<ManifestEntry>& entries,
                                                  std::uint64_t seed, std::int64_t samples) {
  std::vector<std::int64_t> per_source(entries.size(), 0);
  SampleOrder order(seed, entries.size());
  for (std::int64_t k = 0; k < samples; ++k) ++per_source[order.source_of(k)];
  std::map<std::string, std::int64_t> counts;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (per_source[i] > 0) counts[entries[i].label] += per_source[i];
  }
  return counts;
}

}  // namespace

nlohmann::json to_json(const ShardRunSummary& summary) {
  return {
      {"out_dir", summary.out_dir.string()},
      {"samples", summary.samples},
      {"shard_size", summary.shard_size},
      {"shards_total", summary.shards_total},
      {"shards_written", summary.shards_written},
      {"shards_skipped", summary.shards_skipped},
      {"samples_written", summary.samples_written},
      {"complete", summary.complete},
      {"seconds", summary.seconds},
      {"samples_per_second", summary.seconds > 0 ? summary.samples_written / summary.seconds : 0.0},
      {"bytes_written", summary.bytes_written},
      {"class_counts", summary.class_counts},
  };
}

ShardRunSummary write_augmented_shards(const Manifest& manifest, const ShardRunOptions& options) {
  validate(options);
  const auto start = std::chrono::steady_clock::now();
  const Augmenter augmenter(options.params);
  const std::vector<ManifestEntry> entries = manifest.split(options.split);

  detail::prepare_run_folder(options.out_dir, detail::make_run_record(manifest, options));

  ShardRunSummary summary;
  summary.out_dir = options.out_dir;
  summary.samples = options.samples;
  summary.shard_size = options.shard_size;
  summary.shards_total = (options.samples + options.shard_size - 1) / options.shard_size;
  summary.class_counts = count_classes(entries, options.seed, options.samples);

  std::vector<std::int64_t> missing = detail::missing_shards(options.out_dir, options.samples, options.shard_size);
  summary.shards_skipped = summary.shards_total - static_cast<std::int64_t>(missing.size());
  const bool stopping_early = options.stop_after_shards >= 0 &&
                              options.stop_after_shards < static_cast<std::int64_t>(missing.size());
  if (stopping_early) missing.resize(static_cast<std::size_t>(options.stop_after_shards));
  const Schedule schedule(std::move(missing), options.shard_size, options.samples);

  detail::SourceCache cache(static_cast<std::size_t>(options.cache_images));
  Pipeline pipeline(schedule.total(), 2 * options.threads + 2);
  std::vector<std::thread> workers;
  struct JoinOnExit {
    Pipeline& pipeline;
    std::vector<std::thread>& workers;
    ~JoinOnExit() {
      pipeline.stop();
      for (auto& worker : workers) worker.join();
    }
  } join_on_exit{pipeline, workers};
  workers = start_threads(static_cast<std::size_t>(options.threads), [&] {
    try {
      SampleMaker maker(entries, options, augmenter, cache);
      for (std::int64_t position; (position = pipeline.take()) >= 0;) {
        pipeline.put(position, maker.make(schedule.sample_at(position)));
      }
    } catch (...) {
      pipeline.fail(std::current_exception());
    }
  });
  if (workers.empty()) throw Error("cannot start an augmentation thread: the system refuses new threads");
  if (workers.size() < static_cast<std::size_t>(options.threads)) {
    spdlog::warn("the system started only {} of {} augmentation threads; going on with those", workers.size(),
                 options.threads);
  }

  Progress progress("augment", schedule.total(), options.quiet);
  for (std::size_t i = 0; i < schedule.shards().size(); ++i) {
    const fs::path path = options.out_dir / shard_name(schedule.shards()[i]);
    const std::int64_t count = schedule.shard_samples(i);
    write_file_atomically(path, [&](std::ostream& out) {
      TarWriter tar(out);
      for (std::int64_t j = 0; j < count; ++j) {
        const EncodedSample sample = pipeline.pop();
        const std::string key = sample_key(schedule.shards()[i] * options.shard_size + j);
        tar.add(key + ".jpg", sample.jpeg.data(), sample.jpeg.size());
        tar.add(key + ".json", sample.json);
        progress.advance();
      }
      tar.finish();
      summary.bytes_written += tar.bytes_written();
    });
    ++summary.shards_written;
    summary.samples_written += count;
  }
  progress.finish();

  summary.complete = !stopping_early;
  if (summary.complete) {
    detail::write_index(summary, manifest.classes);
  } else {
    std::error_code ec;
    fs::remove(options.out_dir / kIndexFileName, ec);
  }
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace derm
