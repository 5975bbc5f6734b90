#pragma once
// What a model or an ensemble said about a set of images: the one shape of
// results from derm::Classifier through derm-classify, derm-train's validation
// and derm-eval, and of predictions CSVs from other systems.
#include <string>
#include <vector>

namespace derm {

// [member][image][class]: the probability (or logit) of class c for image i by member m.
using MemberScores = std::vector<std::vector<std::vector<float>>>;

struct Predictions {
  std::vector<std::string> classes;
  std::vector<std::string> ids;  // one per image
  // A single model (or a predictions CSV) is an ensemble of one member.
  MemberScores member_probabilities;
  // The logits behind the probabilities, same shape, when a network made them;
  // empty otherwise (e.g. read from a CSV).
  MemberScores member_logits;

  std::size_t members() const { return member_probabilities.size(); }
  std::size_t images() const { return ids.size(); }

  // The images of `more` (same classes and members) after these.
  void append(const Predictions& more);
  // Image i alone.
  Predictions image(std::size_t i) const;
};

}  // namespace derm
