#include "derm/data/prep.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "derm/core/atomic_file.hpp"
#include "derm/core/error.hpp"
#include "derm/core/json_file.hpp"
#include "derm/data/grouped_split.hpp"
#include "prep_duplicates.hpp"
#include "prep_images.hpp"

namespace derm {
namespace fs = std::filesystem;
using nlohmann::json;
using detail::Candidate;
using detail::Exclusions;

namespace {

// The files a run reads, so that no output can replace one of them.
class InputFiles {
 public:
  void add(const fs::path& file) { files_.emplace(file_identity(file), file); }

  // OptionError naming the option and both paths when `output` is an input.
  void refuse_as_output(const std::string& option, const fs::path& output) const {
    const auto found = files_.find(file_identity(output));
    if (found != files_.end()) {
      throw OptionError(option, output.string() + ": would overwrite the input file " + found->second.string());
    }
  }

 private:
  std::map<fs::path, fs::path> files_;
};

void refuse_overwriting_inputs(const InputFiles& inputs, const std::vector<Candidate>& candidates,
                               const PrepOptions& options) {
  inputs.refuse_as_output("out", options.out);
  if (!options.summary.empty()) {
    inputs.refuse_as_output("summary", options.summary);
    if (file_identity(options.summary) == file_identity(options.out)) {
      throw OptionError("summary", options.summary.string() + ": would overwrite the manifest ({out})");
    }
  }
  if (options.cache_dir.empty()) return;
  for (const auto& c : candidates) inputs.refuse_as_output("cache_dir", detail::cache_file(c.image.id, options));
}

// The manifest and the summary: both or neither.
void write_outputs(const PrepResult& result, const PrepOptions& options) {
  StagedFiles outputs;
  outputs.write(options.out, [&](const fs::path& path) { write_manifest(path, result.manifest); });
  if (!options.summary.empty()) {
    outputs.write(options.summary, [&](const fs::path& path) { write_json_file(path, result.summary); });
  }
  outputs.commit();
}

std::string manifest_path(const fs::path& image, const PrepOptions& options) {
  const fs::path absolute = fs::absolute(image).lexically_normal();
  if (options.absolute_paths) return absolute.string();
  const fs::path folder = fs::absolute(options.out).parent_path().lexically_normal();
  const fs::path relative = absolute.lexically_relative(folder);
  return relative.empty() ? absolute.string() : relative.string();
}

}  // namespace

std::vector<SourceSpec> isic2017_sources(const fs::path& dir) {
  const std::vector<std::pair<std::string, std::string>> files = {
      {"ISIC-2017_Training_Part3_GroundTruth.csv", "train"},
      {"ISIC-2017_Validation_Part3_GroundTruth.csv", "val"},
      {"ISIC-2017_Test_v2_Part3_GroundTruth.csv", "test"}};
  std::vector<SourceSpec> sources;
  for (const auto& [file, split] : files) {
    std::error_code ec;
    if (!fs::is_regular_file(dir / file, ec)) {
      throw Error(dir.string() + ": missing " + file + " (not an ISIC 2017 Part 3 folder)");
    }
    sources.push_back({"isic2017", dir / file, dir / "images", split});
  }
  return sources;
}

PrepResult run_prep(const PrepOptions& options) {
  if (options.sources.empty()) throw OptionError("sources", "is required: no label source given");
  if (options.out.empty()) throw OptionError("out", "is required: no manifest to write");
  if (!options.cache_dir.empty() && options.cache_size < 8) {
    throw OptionError("cache_size", std::to_string(options.cache_size) + ": must be at least 8");
  }
  const Task task = task_by_name(options.task);
  Exclusions excluded;

  // 1. Labels, task mapping, missing files, ids from two sources.
  std::vector<Candidate> candidates;
  std::set<fs::path> image_folders;
  std::set<fs::path> labelled_paths;
  std::unordered_map<std::string, std::string> origin_of_id;
  InputFiles inputs;
  for (const auto& spec : options.sources) {
    auto images = read_source(spec);
    spdlog::info("{}: {} labelled images ({})", spec.labels.string(), images.size(), spec.format);
    if (fs::is_regular_file(spec.labels)) inputs.add(spec.labels);
    if (spec.format != "folders") image_folders.insert(fs::absolute(spec.images).lexically_normal());
    for (auto& image : images) {
      if (spec.format == "isic-json") inputs.add(image.origin);
      if (!image.path.empty()) {
        labelled_paths.insert(fs::absolute(image.path).lexically_normal());
        inputs.add(image.path);
      }
      const auto [it, first] = origin_of_id.emplace(image.id, image.origin);
      if (!first) {
        excluded.add(image, "duplicate id '" + image.id + "': also labelled at " + it->second);
        continue;
      }
      if (image.path.empty()) {
        excluded.add(image, "no image file for id '" + image.id + "' in " + spec.images.string());
        continue;
      }
      const int label_index = task.class_of(image.diagnosis);
      if (label_index < 0) {
        excluded.add(image, "not in task " + task.name + " (diagnosis " + name_of(image.diagnosis) + ")");
        continue;
      }
      if (image.split.empty() && options.split_fractions.empty()) {
        throw OptionError("sources", spec.format + ":" + spec.labels.string() +
                                         " gives no split: add :SPLIT to it or use {split_fractions}");
      }
      Candidate c;
      c.image = std::move(image);
      c.label_index = label_index;
      candidates.push_back(std::move(c));
    }
  }
  for (const auto& folder : image_folders) {
    for (const auto& [stem, path] : list_images(folder)) {
      if (labelled_paths.count(fs::absolute(path).lexically_normal())) continue;
      LabeledImage orphan;
      orphan.id = stem;
      orphan.path = path;
      excluded.add(orphan, "image file with no label row");
      inputs.add(path);
    }
  }
  refuse_overwriting_inputs(inputs, candidates, options);

  // 2. Decode, hash, cache.
  if (!options.cache_dir.empty()) fs::create_directories(options.cache_dir);
  detail::check_all(&candidates, options);
  std::vector<Candidate*> kept;
  for (auto& c : candidates) {
    if (c.error.empty()) {
      kept.push_back(&c);
    } else {
      excluded.add(c.image, c.error);
    }
  }

  // 3. Duplicates; they group like lesions for a generated split.
  const auto pairs = detail::find_duplicates(kept, options.near_distance);
  detail::Groups groups = detail::duplicate_groups(kept, pairs);

  // 4. Splits.
  if (!options.split_fractions.empty()) {
    std::vector<SplitItem> items;
    for (std::size_t i = 0; i < kept.size(); ++i) {
      items.push_back({kept[i]->label_index, std::to_string(groups.find(i)), kept[i]->image.split});
    }
    const auto splits = grouped_split(items, options.split_fractions, options.seed);
    for (std::size_t i = 0; i < kept.size(); ++i) kept[i]->image.split = splits[i];
  }

  // 5. Duplicate report and leaks.
  const detail::DuplicateReport duplicates = detail::report_duplicates(pairs, kept, task, options.drop_leaks, excluded);

  // 6. Manifest.
  PrepResult result;
  result.manifest.classes = task.classes;
  std::map<std::string, std::map<std::string, int>> counts;
  std::vector<int> class_totals(task.classes.size(), 0);
  for (const auto* c : kept) {
    if (c->dropped) continue;
    ManifestEntry e;
    e.id = c->image.id;
    e.path = manifest_path(c->cache_path.empty() ? c->image.path : fs::path(c->cache_path), options);
    e.label_index = c->label_index;
    e.label = task.classes[static_cast<std::size_t>(c->label_index)];
    e.lesion_id = c->image.lesion_id;
    e.patient_id = c->image.patient_id;
    e.split = c->image.split;
    e.content_hash = c->content_hash;
    e.width = c->width;
    e.height = c->height;
    e.source = c->image.source;
    counts[e.split][e.label]++;
    class_totals[static_cast<std::size_t>(e.label_index)]++;
    result.manifest.entries.push_back(std::move(e));
  }
  for (std::size_t k = 0; k < class_totals.size(); ++k) {
    if (class_totals[k] == 0) {
      throw Error("task " + task.name + ": no usable image of class '" + task.classes[k] +
                  "'; the manifest could not record it (check the sources)");
    }
  }
  json per_split = json::object();
  for (const auto& [split, by_class] : counts) {
    json row = json::object();
    int total = 0;
    for (const auto& name : task.classes) {
      const auto found = by_class.find(name);
      row[name] = found == by_class.end() ? 0 : found->second;
      total += row[name].get<int>();
    }
    row["total"] = total;
    per_split[split] = row;
  }
  std::map<std::string, int> reasons;
  for (const auto& item : excluded.list) {
    std::string reason = item["reason"].get<std::string>();
    const auto path = item["path"].get<std::string>();
    if (!path.empty() && reason.rfind(path + ": ", 0) == 0) reason = reason.substr(path.size() + 2);
    if (reason.rfind("not in task", 0) == 0) reason = "not in task";
    else if (reason.rfind("duplicate id", 0) == 0) reason = "duplicate id";
    else if (reason.rfind("no image file", 0) == 0) reason = "no image file";
    else if (reason.rfind("leak", 0) == 0) reason = "leak dropped";
    else if (reason.rfind("image too small", 0) == 0) reason = "image too small";
    reasons[reason]++;
  }
  result.summary = {{"manifest", options.out.string()},
                    {"task", task.name},
                    {"classes", task.classes},
                    {"entries", result.manifest.entries.size()},
                    {"counts", per_split},
                    {"excluded_count", excluded.list.size()},
                    {"excluded_by_reason", reasons},
                    {"excluded", excluded.list},
                    {"identical_pairs", duplicates.identical_pairs},
                    {"near_pairs", duplicates.near_pairs},
                    {"leaks", duplicates.leaks},
                    {"identical_leaks", duplicates.identical_leaks},
                    {"identical_test_leaks", duplicates.identical_test_leaks},
                    {"near_distance", options.near_distance},
                    {"drop_leaks", options.drop_leaks},
                    {"duplicates", duplicates.pairs}};
  write_outputs(result, options);
  spdlog::info("{}: {} images, {} excluded, {} identical + {} near duplicate pairs, {} across splits",
               options.out.string(), result.manifest.entries.size(), excluded.list.size(), duplicates.identical_pairs,
               duplicates.near_pairs, duplicates.leaks);
  return result;
}

}  // namespace derm
