#include "derm/classify.hpp"

#include <cstdio>
#include <sstream>

#include "derm/ensemble.hpp"
#include "derm/error.hpp"
#include "derm/image.hpp"
#include "derm/parallel.hpp"
#include "derm/progress.hpp"

namespace derm {

int ClassifyResult::failed() const {
  int count = 0;
  for (const auto& verdict : images) count += verdict.error.empty() ? 0 : 1;
  return count;
}

namespace {

// Fills the ensemble decisions of verdicts whose members are known.
void decide(const std::vector<std::string>& classes, std::vector<ImageVerdict*>& verdicts) {
  if (verdicts.empty()) return;
  Predictions predictions;
  predictions.classes = classes;
  const std::size_t members = verdicts.front()->members.size();
  predictions.member_probabilities.assign(members, {});
  for (auto* verdict : verdicts) {
    predictions.ids.push_back(verdict->image.string());
    for (std::size_t m = 0; m < members; ++m) {
      const auto& p = verdict->members[m].probabilities;
      predictions.member_probabilities[m].emplace_back(p.begin(), p.end());
    }
  }
  const auto majority = predicted_classes(predictions, DecisionRule::majority_vote);
  const auto mean_class = predicted_classes(predictions, DecisionRule::mean_probability);
  const auto means = mean_probabilities(predictions);
  for (std::size_t i = 0; i < verdicts.size(); ++i) {
    ImageVerdict& v = *verdicts[i];
    v.majority_class = majority[i];
    v.mean_probability_class = mean_class[i];
    v.mean_probabilities = means[i];
    v.votes.assign(classes.size(), 0);
    for (std::size_t m = 0; m < members; ++m) {
      const auto& p = v.members[m].probabilities;
      v.member_classes.push_back(static_cast<int>(std::max_element(p.begin(), p.end()) - p.begin()));
      v.votes[static_cast<std::size_t>(v.member_classes.back())]++;
    }
  }
}

}  // namespace

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

}  // namespace

ClassifyResult classify_images(const ClassifyRequest& request) {
  const std::vector<std::filesystem::path> paths = expand_folders(request.images);
  if (paths.empty()) throw Error("no image given");
  if (request.batch_size < 1) throw OptionError("--batch-size must be at least 1");
  Classifier classifier(request.classifier);
  ClassifyResult result;
  result.classes = classifier.classes();
  result.models = classifier.member_paths();
  result.device = classifier.device();
  result.tta_views = request.tta_views;
  result.untrained = classifier.untrained();
  result.images.resize(paths.size());

  Progress progress("classify", static_cast<std::int64_t>(paths.size()), request.quiet || paths.size() < 8);
  for (std::size_t start = 0; start < paths.size(); start += request.batch_size) {
    const std::size_t end = std::min(paths.size(), start + request.batch_size);
    std::vector<cv::Mat> batch;
    std::vector<ImageVerdict*> batch_verdicts;
    std::vector<cv::Mat> decoded(end - start);
    parallel_for(decoded.size(), request.workers, [&](std::size_t k) {
      ImageVerdict& verdict = result.images[start + k];
      verdict.image = paths[start + k];
      try {
        decoded[k] = read_rgb_image(verdict.image);
      } catch (const Error& e) {
        verdict.error = e.what();
      }
    });
    for (std::size_t k = 0; k < decoded.size(); ++k) {
      if (decoded[k].empty()) continue;
      batch.push_back(decoded[k]);
      batch_verdicts.push_back(&result.images[start + k]);
    }
    const auto outputs = classifier.classify(batch, request.tta_views);
    for (std::size_t k = 0; k < outputs.size(); ++k) batch_verdicts[k]->members = outputs[k];
    decide(result.classes, batch_verdicts);
    progress.advance(static_cast<std::int64_t>(end - start));
  }
  progress.finish();
  return result;
}

Predictions predict_entries(Classifier& classifier, const std::vector<ManifestEntry>& entries, int batch_size,
                            int tta_views, int workers, bool quiet) {
  if (batch_size < 1) throw OptionError("--batch-size must be at least 1");
  Predictions predictions;
  predictions.classes = classifier.classes();
  predictions.member_probabilities.assign(classifier.members().size(), {});
  Progress progress("predicting", static_cast<std::int64_t>(entries.size()), quiet);
  for (std::size_t start = 0; start < entries.size(); start += static_cast<std::size_t>(batch_size)) {
    const std::size_t end = std::min(entries.size(), start + static_cast<std::size_t>(batch_size));
    std::vector<cv::Mat> batch(end - start);
    parallel_for(batch.size(), workers, [&](std::size_t k) { batch[k] = read_rgb_image(entries[start + k].path); });
    const auto outputs = classifier.classify(batch, tta_views);
    for (std::size_t k = 0; k < outputs.size(); ++k) {
      predictions.ids.push_back(entries[start + k].id);
      for (std::size_t m = 0; m < outputs[k].size(); ++m) {
        const auto& p = outputs[k][m].probabilities;
        predictions.member_probabilities[m].emplace_back(p.begin(), p.end());
      }
    }
    progress.advance(static_cast<std::int64_t>(end - start));
  }
  progress.finish();
  return predictions;
}

namespace {

nlohmann::json by_class(const std::vector<std::string>& classes, const std::vector<double>& values) {
  nlohmann::json out = nlohmann::json::object();
  for (std::size_t c = 0; c < classes.size(); ++c) out[classes[c]] = values[c];
  return out;
}

}  // namespace

nlohmann::json to_json(const ClassifyResult& result, bool include_logits) {
  nlohmann::json images = nlohmann::json::array();
  for (const auto& v : result.images) {
    nlohmann::json item{{"image", v.image.string()}};
    if (!v.error.empty()) {
      item["ok"] = false;
      item["error"] = v.error;
      images.push_back(std::move(item));
      continue;
    }
    item["ok"] = true;
    item["prediction"] = result.classes[v.majority_class];
    nlohmann::json votes = nlohmann::json::object();
    for (std::size_t c = 0; c < result.classes.size(); ++c) votes[result.classes[c]] = v.votes[c];
    item["majority_vote"] = {{"class", result.classes[v.majority_class]}, {"votes", votes}};
    item["mean_probability"] = {{"class", result.classes[v.mean_probability_class]},
                                {"probabilities", by_class(result.classes, v.mean_probabilities)}};
    nlohmann::json members = nlohmann::json::array();
    for (std::size_t m = 0; m < v.members.size(); ++m) {
      const auto& p = v.members[m].probabilities;
      nlohmann::json member{{"model", result.models[m].string()},
                            {"prediction", result.classes[static_cast<std::size_t>(v.member_classes[m])]},
                            {"probabilities", by_class(result.classes, {p.begin(), p.end()})}};
      if (include_logits) member["logits"] = v.members[m].logits;
      members.push_back(std::move(member));
    }
    item["members"] = std::move(members);
    images.push_back(std::move(item));
  }
  nlohmann::json models = nlohmann::json::array();
  for (const auto& m : result.models) models.push_back(m.string());
  return {{"classes", result.classes}, {"models", models},     {"device", result.device},
          {"untrained", result.untrained}, {"tta_views", result.tta_views}, {"images", images},
          {"failed", result.failed()}};
}

std::string to_text(const ClassifyResult& result, bool include_logits) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(3);
  if (result.untrained) out << "WARNING: UNTRAINED MODEL - these predictions are meaningless\n";
  const std::size_t members = result.models.size();
  for (const auto& v : result.images) {
    if (!v.error.empty()) {
      out << v.image.string() << ": ERROR " << v.error << "\n";
      continue;
    }
    out << v.image.string() << ": " << result.classes[v.majority_class];
    if (members > 1) {
      out << " (majority vote " << v.votes[v.majority_class] << "/" << members << ", mean probability "
          << v.mean_probabilities[v.majority_class] << ")";
    } else {
      out << " (probability " << v.mean_probabilities[v.majority_class] << ")";
    }
    out << "\n   ";
    for (std::size_t c = 0; c < result.classes.size(); ++c) {
      out << " " << result.classes[c] << " " << v.mean_probabilities[c];
    }
    out << "\n";
    if (include_logits) {
      for (std::size_t m = 0; m < members; ++m) {
        out << "    logits[" << m << "]";
        for (float l : v.members[m].logits) out << " " << l;
        out << "\n";
      }
    }
  }
  return out.str();
}

}  // namespace derm
