#include "derm/infer/classify.hpp"

#include <algorithm>
#include <future>
#include <map>
#include <sstream>

#include "derm/core/atomic_file.hpp"
#include "derm/core/error.hpp"
#include "derm/core/image.hpp"
#include "derm/core/parallel.hpp"
#include "derm/core/progress.hpp"
#include "derm/core/text.hpp"

namespace derm {

int ClassifyResult::failed() const {
  int count = 0;
  for (const auto& error : errors) count += error.empty() ? 0 : 1;
  return count;
}

void ClassifyResult::append(const ClassifyResult& more) {
  images.insert(images.end(), more.images.begin(), more.images.end());
  errors.insert(errors.end(), more.errors.begin(), more.errors.end());
  predictions.append(more.predictions);
  decisions.append(more.decisions);
  heatmaps.insert(heatmaps.end(), more.heatmaps.begin(), more.heatmaps.end());
}

namespace {

// The images named, with folders replaced by the image files under them.
std::vector<std::filesystem::path> expand_folders(const std::vector<std::filesystem::path>& paths) {
  std::vector<std::filesystem::path> images;
  for (const auto& path : paths) {
    std::error_code ec;
    if (!std::filesystem::is_directory(path, ec)) {
      images.push_back(path);
      continue;
    }
    const auto found = image_files_in(path);
    if (found.empty()) throw Error(path.string() + ": folder holds no image (jpg, jpeg, png, bmp, tif, tiff, webp)");
    images.insert(images.end(), found.begin(), found.end());
  }
  return images;
}

void check_batch_size(int batch_size) {
  if (batch_size < 1) throw OptionError("batch_size", "must be at least 1");
}

// Where each image's heatmap overlay goes: <stem>.<class>.png; two images of
// one stem would write the same file.
void check_heatmap_files(const std::vector<std::filesystem::path>& images) {
  std::map<std::string, std::filesystem::path> by_stem;
  for (const auto& image : images) {
    const auto [it, first] = by_stem.emplace(image.stem().string(), image);
    if (!first) {
      throw OptionError("heatmap_dir", ": " + image.string() + " and " + it->second.string() +
                                           " would write the same heatmap files (same file name stem)");
    }
  }
}

// consume(start, end, decode(start, end)) for each batch of [0, count) in
// order, batch k + 1 decoded on another thread while batch k is consumed.
template <typename Decode, typename Consume>
void for_each_batch_decoded_ahead(std::size_t count, std::size_t batch_size, Decode decode, Consume consume) {
  const auto end_of = [&](std::size_t start) { return std::min(count, start + batch_size); };
  auto next = std::async(std::launch::async, decode, std::size_t{0}, end_of(0));
  for (std::size_t start = 0; start < count; start += batch_size) {
    auto batch = next.get();
    const std::size_t end = end_of(start);
    if (end < count) next = std::async(std::launch::async, decode, end, end_of(end));
    consume(start, end, std::move(batch));
  }
}

struct DecodedBatch {
  std::vector<cv::Mat> images;
  std::vector<std::string> errors;  // per image; empty when it decoded
};

}  // namespace

void check_heatmap_class(const std::string& heatmap_class, const std::vector<std::string>& classes) {
  if (heatmap_class == "predicted" || std::find(classes.begin(), classes.end(), heatmap_class) != classes.end()) return;
  throw OptionError("heatmap_class", "'" + heatmap_class + "': expected predicted or one of the classes (" +
                                         join(classes, ", ") + ")");
}

ClassifyResult make_result(const Classifier& classifier, std::vector<std::filesystem::path> images,
                           std::vector<std::string> errors, Predictions predictions, int tta_views) {
  ClassifyResult result;
  result.classes = classifier.classes();
  result.models = classifier.member_paths();
  result.device = classifier.device();
  result.untrained = classifier.untrained();
  result.tta_views = tta_views;
  result.images = std::move(images);
  result.errors = std::move(errors);
  result.predictions = std::move(predictions);
  if (result.predictions.images() > 0) result.decisions = decide(result.predictions);
  return result;
}

void add_heatmaps(ClassifyResult& result, Classifier& classifier, const std::vector<cv::Mat>& classified_rgb,
                  const std::string& heatmap_class, const std::string& heatmap_layer) {
  check_heatmap_class(heatmap_class, result.classes);
  for (std::size_t i = 0; i < classified_rgb.size(); ++i) {
    const int class_index =
        heatmap_class == "predicted"
            ? result.decisions.majority_vote.at(i)
            : static_cast<int>(std::find(result.classes.begin(), result.classes.end(), heatmap_class) -
                               result.classes.begin());
    ImageHeatmap image;
    image.heatmap = classifier.heatmap(classified_rgb[i], class_index, heatmap_layer);
    image.overlay = heatmap_overlay(classified_rgb[i], image.heatmap.map);
    result.heatmaps.push_back(std::move(image));
  }
}

ClassifyResult classify_images(const ClassifyRequest& request) {
  const std::vector<std::filesystem::path> paths = expand_folders(request.images);
  if (paths.empty()) throw OptionError("images", "is required: no image given");
  check_batch_size(request.batch_size);
  const bool heatmaps = !request.heatmap_dir.empty();
  if (heatmaps) check_heatmap_files(paths);
  Classifier classifier(request.classifier);
  if (heatmaps) {
    check_heatmap_class(request.heatmap_class, classifier.classes());
    std::filesystem::create_directories(request.heatmap_dir);
  }
  ClassifyResult result = make_result(classifier, {}, {}, {}, request.tta_views);
  result.predictions.classes = classifier.classes();

  Progress progress("classify", static_cast<std::int64_t>(paths.size()), request.quiet || paths.size() < 8);
  const auto decode = [&](std::size_t start, std::size_t end) {
    DecodedBatch batch{std::vector<cv::Mat>(end - start), std::vector<std::string>(end - start)};
    parallel_for(end - start, request.workers, [&](std::size_t k) {
      try {
        batch.images[k] = read_rgb_image(paths[start + k]);
      } catch (const Error& e) {
        batch.errors[k] = e.what();
      }
    });
    return batch;
  };
  const auto classify_batch = [&](std::size_t start, std::size_t end, DecodedBatch decoded_batch) {
    const std::vector<std::filesystem::path> batch_paths(paths.begin() + static_cast<std::ptrdiff_t>(start),
                                                         paths.begin() + static_cast<std::ptrdiff_t>(end));
    std::vector<cv::Mat>& decoded = decoded_batch.images;
    std::vector<std::string>& errors = decoded_batch.errors;
    std::vector<cv::Mat> classified;
    std::vector<std::string> ids;
    for (std::size_t k = 0; k < decoded.size(); ++k) {
      if (decoded[k].empty()) continue;
      classified.push_back(decoded[k]);
      ids.push_back(batch_paths[k].string());
    }
    ClassifyResult batch = make_result(classifier, batch_paths, std::move(errors),
                                       classifier.classify(classified, ids, request.tta_views), request.tta_views);
    if (heatmaps) {
      add_heatmaps(batch, classifier, classified, request.heatmap_class, request.heatmap_layer);
      for (std::size_t i = 0; i < batch.heatmaps.size(); ++i) {
        ImageHeatmap& heatmap = batch.heatmaps[i];
        heatmap.file = request.heatmap_dir / (std::filesystem::path(ids[i]).stem().string() + "." +
                                              heatmap.heatmap.class_name + ".png");
        const std::string png = encode_png(heatmap.overlay);
        write_file_atomically(heatmap.file, [&](std::ostream& out) { out << png; });
      }
    }
    result.append(batch);
    progress.advance(static_cast<std::int64_t>(end - start));
  };
  for_each_batch_decoded_ahead(paths.size(), static_cast<std::size_t>(request.batch_size), decode, classify_batch);
  progress.finish();
  return result;
}

Predictions predict_entries(Classifier& classifier, const std::vector<ManifestEntry>& entries, int batch_size,
                            int tta_views, int workers, bool quiet) {
  check_batch_size(batch_size);
  Predictions predictions;
  predictions.classes = classifier.classes();
  Progress progress("predicting", static_cast<std::int64_t>(entries.size()), quiet);
  const auto decode = [&](std::size_t start, std::size_t end) {
    std::vector<cv::Mat> batch(end - start);
    parallel_for(batch.size(), workers, [&](std::size_t k) { batch[k] = read_rgb_image(entries[start + k].path); });
    return batch;
  };
  const auto predict_batch = [&](std::size_t start, std::size_t end, std::vector<cv::Mat> batch) {
    std::vector<std::string> ids;
    for (std::size_t k = start; k < end; ++k) ids.push_back(entries[k].id);
    predictions.append(classifier.classify(batch, ids, tta_views));
    progress.advance(static_cast<std::int64_t>(end - start));
  };
  for_each_batch_decoded_ahead(entries.size(), static_cast<std::size_t>(batch_size), decode, predict_batch);
  progress.finish();
  return predictions;
}

namespace {

// A map's values row by row.
nlohmann::json rows_of(const cv::Mat& map) {
  nlohmann::json rows = nlohmann::json::array();
  for (int y = 0; y < map.rows; ++y) {
    const float* row = map.ptr<float>(y);
    rows.push_back(std::vector<float>(row, row + map.cols));
  }
  return rows;
}

nlohmann::json heatmap_json(const ImageHeatmap& image) {
  nlohmann::json cam = nlohmann::json::array();
  for (const auto& map : image.heatmap.member_maps) cam.push_back(rows_of(map));
  nlohmann::json out{{"class", image.heatmap.class_name}, {"layer", image.heatmap.layer}, {"cam", cam}};
  if (!image.file.empty()) out["file"] = image.file.string();
  return out;
}

template <class Values>
nlohmann::json by_class(const std::vector<std::string>& classes, const Values& values) {
  nlohmann::json out = nlohmann::json::object();
  for (std::size_t c = 0; c < classes.size(); ++c) out[classes[c]] = static_cast<double>(values[c]);
  return out;
}

}  // namespace

nlohmann::json to_json(const ClassifyResult& result, bool include_logits) {
  const auto& classes = result.classes;
  const auto& p = result.predictions;
  const auto& d = result.decisions;
  nlohmann::json images = nlohmann::json::array();
  std::size_t row = 0;  // the image's row in result.predictions
  for (std::size_t k = 0; k < result.images.size(); ++k) {
    nlohmann::json item{{"image", result.images[k].string()}};
    if (!result.errors[k].empty()) {
      item["ok"] = false;
      item["error"] = result.errors[k];
      images.push_back(std::move(item));
      continue;
    }
    const std::size_t i = row++;
    item["ok"] = true;
    item["prediction"] = classes[static_cast<std::size_t>(d.majority_vote[i])];
    item["majority_vote"] = {{"class", classes[static_cast<std::size_t>(d.majority_vote[i])]},
                             {"votes", by_class(classes, d.votes[i])}};
    item["mean_probability"] = {{"class", classes[static_cast<std::size_t>(d.mean_probability[i])]},
                                {"probabilities", by_class(classes, d.mean_probabilities[i])}};
    nlohmann::json members = nlohmann::json::array();
    for (std::size_t m = 0; m < p.members(); ++m) {
      nlohmann::json member{{"model", result.models[m].string()},
                            {"prediction", classes[static_cast<std::size_t>(d.member_classes[i][m])]},
                            {"probabilities", by_class(classes, p.member_probabilities[m][i])}};
      if (include_logits) member["logits"] = p.member_logits[m][i];
      members.push_back(std::move(member));
    }
    item["members"] = std::move(members);
    if (i < result.heatmaps.size()) item["heatmap"] = heatmap_json(result.heatmaps[i]);
    images.push_back(std::move(item));
  }
  nlohmann::json models = nlohmann::json::array();
  for (const auto& m : result.models) models.push_back(m.string());
  return {{"classes", classes}, {"models", models},     {"device", result.device},
          {"untrained", result.untrained}, {"tta_views", result.tta_views}, {"images", images},
          {"failed", result.failed()}};
}

std::string to_text(const ClassifyResult& result, bool include_logits) {
  const auto& classes = result.classes;
  const auto& p = result.predictions;
  const auto& d = result.decisions;
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(3);
  if (result.untrained) out << "WARNING: UNTRAINED MODEL - these predictions are meaningless\n";
  const std::size_t members = result.models.size();
  std::size_t row = 0;
  for (std::size_t k = 0; k < result.images.size(); ++k) {
    if (!result.errors[k].empty()) {
      out << result.images[k].string() << ": ERROR " << result.errors[k] << "\n";
      continue;
    }
    const std::size_t i = row++;
    const auto winner = static_cast<std::size_t>(d.majority_vote[i]);
    out << result.images[k].string() << ": " << classes[winner];
    if (members > 1) {
      out << " (majority vote " << d.votes[i][winner] << "/" << members << ", mean probability "
          << d.mean_probabilities[i][winner] << ")";
    } else {
      out << " (probability " << d.mean_probabilities[i][winner] << ")";
    }
    out << "\n   ";
    for (std::size_t c = 0; c < classes.size(); ++c) out << " " << classes[c] << " " << d.mean_probabilities[i][c];
    out << "\n";
    if (i < result.heatmaps.size() && !result.heatmaps[i].file.empty()) {
      out << "    heatmap (" << result.heatmaps[i].heatmap.class_name << "): " << result.heatmaps[i].file.string() << "\n";
    }
    if (include_logits) {
      for (std::size_t m = 0; m < members; ++m) {
        out << "    logits[" << m << "]";
        for (float l : p.member_logits[m][i]) out << " " << l;
        out << "\n";
      }
    }
  }
  return out.str();
}

}  // namespace derm
