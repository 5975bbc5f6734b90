#pragma once
// What a model or an ensemble said about a set of images: the common currency
// of derm-classify, derm-eval and predictions CSVs from other systems.
#include <string>
#include <vector>

namespace derm {

struct Predictions {
  std::vector<std::string> classes;
  std::vector<std::string> ids;  // one per image
  // member_probabilities[m][i][c]: probability of class c for image i by member m.
  // A single model (or a predictions CSV) is an ensemble of one member.
  std::vector<std::vector<std::vector<float>>> member_probabilities;

  std::size_t members() const { return member_probabilities.size(); }
  std::size_t images() const { return ids.size(); }
};

}  // namespace derm
