#include "derm/data/diagnosis.hpp"

#include <algorithm>
#include <cctype>
#include <map>

#include "derm/core/error.hpp"
#include "derm/core/text.hpp"

namespace derm {

std::optional<Diagnosis> parse_diagnosis(const std::string& text) {
  std::string key;
  for (const char c : text) {
    const bool separator = c == '_' || c == '-' || c == ' ';
    if (separator) {
      if (!key.empty() && key.back() != ' ') key += ' ';
    } else {
      key += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  while (!key.empty() && key.back() == ' ') key.pop_back();
  static const std::map<std::string, Diagnosis> kNames = {
      {"mel", Diagnosis::mel},
      {"melanoma", Diagnosis::mel},
      {"nv", Diagnosis::nv},
      {"nevus", Diagnosis::nv},
      {"naevus", Diagnosis::nv},
      {"bkl", Diagnosis::bkl},
      {"sk", Diagnosis::bkl},
      {"seborrheic keratosis", Diagnosis::bkl},
      {"pigmented benign keratosis", Diagnosis::bkl},
      {"benign keratosis", Diagnosis::bkl},
      {"solar lentigo", Diagnosis::bkl},
      {"lentigo nos", Diagnosis::bkl},
      {"lichenoid keratosis", Diagnosis::bkl},
      {"bcc", Diagnosis::bcc},
      {"basal cell carcinoma", Diagnosis::bcc},
      {"akiec", Diagnosis::akiec},
      {"ak", Diagnosis::akiec},
      {"actinic keratosis", Diagnosis::akiec},
      {"df", Diagnosis::df},
      {"dermatofibroma", Diagnosis::df},
      {"vasc", Diagnosis::vasc},
      {"vascular lesion", Diagnosis::vasc},
      {"angioma", Diagnosis::vasc},
      {"angiokeratoma", Diagnosis::vasc},
      {"scc", Diagnosis::scc},
      {"squamous cell carcinoma", Diagnosis::scc},
      {"benign", Diagnosis::other_benign},
      {"other benign", Diagnosis::other_benign},
      {"other", Diagnosis::other_benign},
      {"lentigo simplex", Diagnosis::other_benign},
      {"cafe au lait macule", Diagnosis::other_benign},
      {"malignant", Diagnosis::other_malignant},
      {"unk", Diagnosis::unk},
      {"unknown", Diagnosis::unk},
      {"atypical melanocytic proliferation", Diagnosis::unk},
  };
  const auto found = kNames.find(key);
  if (found == kNames.end()) return std::nullopt;
  return found->second;
}

int Task::class_of(Diagnosis diagnosis) const {
  for (const auto& [d, index] : map) {
    if (d == diagnosis) return index;
  }
  return -1;
}

namespace {

std::vector<Task> all_tasks() {
  using D = Diagnosis;
  return {
      {"isic2017",
       {"melanoma", "seborrheic_keratosis", "nevus"},
       {{D::mel, 0}, {D::bkl, 1}, {D::nv, 2}}},
      {"melanoma",
       {"melanoma", "benign"},
       {{D::mel, 0},
        {D::nv, 1},
        {D::bkl, 1},
        {D::bcc, 1},
        {D::akiec, 1},
        {D::df, 1},
        {D::vasc, 1},
        {D::scc, 1},
        {D::other_benign, 1}}},
      {"ham7",
       {"mel", "bcc", "akiec", "bkl", "df", "vasc", "nv"},
       {{D::mel, 0}, {D::bcc, 1}, {D::akiec, 2}, {D::bkl, 3}, {D::df, 4}, {D::vasc, 5}, {D::nv, 6}}},
  };
}

}  // namespace

std::vector<std::string> task_names() {
  std::vector<std::string> names;
  for (const auto& task : all_tasks()) names.push_back(task.name);
  return names;
}

Task task_by_name(const std::string& name) {
  for (auto& task : all_tasks()) {
    if (task.name == name) return task;
  }
  throw OptionError("task", ": unknown task '" + name + "' (known tasks: " + join(task_names(), ", ") + ")");
}

std::string describe_tasks() {
  std::string text;
  for (const auto& task : all_tasks()) {
    text += "  " + task.name + ":";
    for (std::size_t i = 0; i < task.classes.size(); ++i) {
      std::string codes;
      for (const auto& [d, index] : task.map) {
        if (index == static_cast<int>(i)) codes += (codes.empty() ? "" : "+") + name_of(d);
      }
      text += (i == 0 ? " " : ", ") + codes + "->" + task.classes[i];
    }
    text += "\n";
  }
  return text;
}

}  // namespace derm
