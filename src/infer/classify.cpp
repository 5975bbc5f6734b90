#include "derm/infer/classify.hpp"

#include <sstream>

#include "derm/core/error.hpp"
#include "derm/core/image.hpp"
#include "derm/core/parallel.hpp"
#include "derm/core/progress.hpp"

namespace derm {

int ClassifyResult::failed() const {
  int count = 0;
  for (const auto& error : errors) count += error.empty() ? 0 : 1;
  return count;
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

}  // namespace

ClassifyResult classify_images(const ClassifyRequest& request) {
  const std::vector<std::filesystem::path> paths = expand_folders(request.images);
  if (paths.empty()) throw OptionError("images", "is required: no image given");
  check_batch_size(request.batch_size);
  Classifier classifier(request.classifier);
  ClassifyResult result;
  result.classes = classifier.classes();
  result.models = classifier.member_paths();
  result.device = classifier.device();
  result.tta_views = request.tta_views;
  result.untrained = classifier.untrained();
  result.images = paths;
  result.errors.resize(paths.size());
  result.predictions.classes = result.classes;

  Progress progress("classify", static_cast<std::int64_t>(paths.size()), request.quiet || paths.size() < 8);
  for (std::size_t start = 0; start < paths.size(); start += static_cast<std::size_t>(request.batch_size)) {
    const std::size_t end = std::min(paths.size(), start + static_cast<std::size_t>(request.batch_size));
    std::vector<cv::Mat> decoded(end - start);
    parallel_for(decoded.size(), request.workers, [&](std::size_t k) {
      try {
        decoded[k] = read_rgb_image(paths[start + k]);
      } catch (const Error& e) {
        result.errors[start + k] = e.what();
      }
    });
    std::vector<cv::Mat> batch;
    std::vector<std::string> ids;
    for (std::size_t k = 0; k < decoded.size(); ++k) {
      if (decoded[k].empty()) continue;
      batch.push_back(decoded[k]);
      ids.push_back(paths[start + k].string());
    }
    result.predictions.append(classifier.classify(batch, ids, request.tta_views));
    progress.advance(static_cast<std::int64_t>(end - start));
  }
  progress.finish();
  if (result.predictions.images() > 0) result.decisions = decide(result.predictions);
  return result;
}

Predictions predict_entries(Classifier& classifier, const std::vector<ManifestEntry>& entries, int batch_size,
                            int tta_views, int workers, bool quiet) {
  check_batch_size(batch_size);
  Predictions predictions;
  predictions.classes = classifier.classes();
  Progress progress("predicting", static_cast<std::int64_t>(entries.size()), quiet);
  for (std::size_t start = 0; start < entries.size(); start += static_cast<std::size_t>(batch_size)) {
    const std::size_t end = std::min(entries.size(), start + static_cast<std::size_t>(batch_size));
    std::vector<cv::Mat> batch(end - start);
    std::vector<std::string> ids;
    parallel_for(batch.size(), workers, [&](std::size_t k) { batch[k] = read_rgb_image(entries[start + k].path); });
    for (std::size_t k = start; k < end; ++k) ids.push_back(entries[k].id);
    predictions.append(classifier.classify(batch, ids, tta_views));
    progress.advance(static_cast<std::int64_t>(end - start));
  }
  progress.finish();
  return predictions;
}

namespace {

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
