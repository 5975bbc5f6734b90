#include "derm/model/ensemble_folder.hpp"

#include <algorithm>
#include <set>

#include "derm/core/atomic_file.hpp"
#include "derm/core/error.hpp"
#include "derm/core/json_file.hpp"

namespace derm {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string member_name(int member, const char* extension) {
  return "member-" + std::to_string(member) + extension;
}

}  // namespace

fs::path EnsembleFolder::member_model(int member) const { return dir_ / member_name(member, ".safetensors"); }
fs::path EnsembleFolder::member_record(int member) const { return dir_ / member_name(member, ".json"); }
fs::path EnsembleFolder::member_checkpoint(int member) const { return dir_ / member_name(member, ".checkpoint"); }

bool EnsembleFolder::member_trained(int member) const {
  return fs::exists(member_record(member)) && fs::exists(member_model(member));
}

bool EnsembleFolder::written_by_training() const { return fs::exists(training_log()); }

json EnsembleFolder::read_member_record(int member) const { return read_json_file(member_record(member)); }

void EnsembleFolder::write_member_record(int member, const json& record) const {
  write_json_file(member_record(member), record);
}

void EnsembleFolder::write_listing(int count, const std::vector<std::string>& classes) const {
  json members = json::array();
  for (int member = 1; member <= count; ++member) members.push_back(member_model(member).filename().string());
  write_json_file(listing(), {{"members", members}, {"classes", classes}, {"decision", "majority_vote"}});
}

std::vector<fs::path> EnsembleFolder::listed_models() const {
  const json ensemble = read_json_file(listing());
  std::vector<fs::path> models;
  try {
    for (const auto& name : ensemble.at("members")) models.push_back(dir_ / name.get<std::string>());
  } catch (const json::exception& e) {
    throw Error(listing().string() + ": malformed ensemble file (" + e.what() + ")");
  }
  return models;
}

std::vector<fs::path> resolve_model_paths(const std::vector<fs::path>& models) {
  std::vector<fs::path> paths;
  for (const auto& model : models) {
    if (!fs::is_directory(model)) {
      paths.push_back(model);
      continue;
    }
    const EnsembleFolder folder(model);
    std::vector<fs::path> members;
    if (fs::exists(folder.listing())) {
      members = folder.listed_models();
    } else if (folder.written_by_training()) {
      throw Error(model.string() + ": derm-train folder without " + folder.listing().filename().string() +
                  " (not every member is trained yet); give some of its member files instead");
    } else {
      for (const auto& entry : fs::directory_iterator(model)) {
        if (entry.path().extension() == ".safetensors") members.push_back(entry.path());
      }
      std::sort(members.begin(), members.end());
    }
    if (members.empty()) throw Error(model.string() + ": folder holds no model (no ensemble.json or *.safetensors)");
    paths.insert(paths.end(), members.begin(), members.end());
  }
  if (paths.empty()) throw OptionError("models", "is required: no model given");
  std::set<fs::path> seen;
  for (const auto& path : paths) {
    if (!seen.insert(file_identity(path)).second) {
      throw OptionError("models", ": " + path.string() + ": model given twice (it would vote twice)");
    }
  }
  return paths;
}

}  // namespace derm
