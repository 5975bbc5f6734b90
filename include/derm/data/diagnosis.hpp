#pragma once
// Diagnoses as the ISIC datasets name them, and the tasks that map them onto
// class lists. In every task THE LAST CLASS IS THE NEGATIVE ("rest") CLASS.
//
// Task maps (diagnosis code -> class; any other diagnosis is excluded with the
// reason "not in task <name>"):
//   isic2017 : mel -> melanoma, bkl -> seborrheic_keratosis, nv -> nevus
//   melanoma : mel -> melanoma; nv, bkl, bcc, akiec, df, vasc, scc, other_benign -> benign
//              ("benign" means "not melanoma"); unk and other_malignant are excluded
//   ham7     : mel, bcc, akiec, bkl, df, vasc, nv (the HAM10000 codes, nv last)
//
// Diagnosis codes (the HAM10000/ISIC 2019 codes plus three catch-alls):
//   mel melanoma, nv nevus, bkl benign keratosis (seborrheic keratosis, solar
//   lentigo, lichen-planus-like keratosis), bcc basal cell carcinoma, akiec
//   actinic keratosis / intraepithelial carcinoma, df dermatofibroma, vasc
//   vascular lesion, scc squamous cell carcinoma, other_benign (benign, other or
//   unstated diagnosis), other_malignant (malignant, not stated which), unk.
#include <optional>
#include <string>
#include <vector>

#include "derm/core/enum_names.hpp"

namespace derm {

enum class Diagnosis { mel, nv, bkl, bcc, akiec, df, vasc, scc, other_benign, other_malignant, unk };

template <>
struct EnumNames<Diagnosis> {
  static constexpr const char* what = "diagnosis";
  static constexpr EnumName<Diagnosis> names[] = {
      {Diagnosis::mel, "mel"},     {Diagnosis::nv, "nv"},
      {Diagnosis::bkl, "bkl"},     {Diagnosis::bcc, "bcc"},
      {Diagnosis::akiec, "akiec"}, {Diagnosis::df, "df"},
      {Diagnosis::vasc, "vasc"},   {Diagnosis::scc, "scc"},
      {Diagnosis::other_benign, "other_benign"}, {Diagnosis::other_malignant, "other_malignant"},
      {Diagnosis::unk, "unk"}};
};

// Accepts the codes above and the ISIC spellings ("melanoma", "nevus",
// "seborrheic keratosis", "basal cell carcinoma", "AKIEC", "solar lentigo", ...),
// case-insensitive, with '_', '-' or ' ' between words. nullopt when unknown.
std::optional<Diagnosis> parse_diagnosis(const std::string& text);

struct Task {
  std::string name;
  std::vector<std::string> classes;  // the last one is the negative/rest class
  // Class index of a diagnosis, or -1 when the task excludes it.
  int class_of(Diagnosis diagnosis) const;

  std::vector<std::pair<Diagnosis, int>> map;
};

// derm::Error naming the task and the known ones when unknown.
Task task_by_name(const std::string& name);
std::vector<std::string> task_names();
// One line per task: "isic2017: mel->melanoma, bkl->seborrheic_keratosis, nv->nevus".
std::string describe_tasks();

}  // namespace derm
