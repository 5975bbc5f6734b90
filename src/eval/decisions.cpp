#include "decisions.hpp"

#include "derm/core/error.hpp"
#include "derm/core/text.hpp"

namespace derm::detail {

std::vector<NamedDecision> decisions_of(const Predictions& predictions, bool include_members) {
  std::vector<NamedDecision> decisions;
  const bool ensemble = predictions.members() > 1;
  if (ensemble) decisions.push_back({"majority_vote", DecisionRule::majority_vote, std::nullopt, "vote_fraction"});
  decisions.push_back({"mean_probability", DecisionRule::mean_probability, std::nullopt,
                       ensemble ? "mean_probability" : "probability"});
  if (ensemble && include_members) {
    for (std::size_t m = 0; m < predictions.members(); ++m) {
      decisions.push_back({"member_" + std::to_string(m), DecisionRule::mean_probability, m, "probability"});
    }
  }
  return decisions;
}

Predictions predictions_of(const Predictions& predictions, const NamedDecision& decision) {
  return decision.member ? member_predictions(predictions, *decision.member) : predictions;
}

std::vector<int> positive_class_indices(const std::vector<std::string>& classes,
                                        const std::vector<std::string>& names) {
  const std::vector<std::string> positives = names.empty() ? default_positive_classes(classes) : names;
  std::vector<int> indices;
  for (const std::string& name : positives) {
    int found = -1;
    for (std::size_t c = 0; c < classes.size(); ++c) {
      if (classes[c] == name) found = static_cast<int>(c);
    }
    if (found < 0) {
      throw OptionError("positive_classes", ": class '" + name + "' is not one of the predicted classes (" +
                        join(classes, ", ") + ")");
    }
    indices.push_back(found);
  }
  return indices;
}

void check_labels(const std::vector<int>& labels, const Predictions& predictions, const std::string& what) {
  if (labels.size() != predictions.images()) {
    throw Error(what + ": " + std::to_string(labels.size()) + " labels for " + std::to_string(predictions.images()) +
                " predicted images");
  }
  const int classes = static_cast<int>(predictions.classes.size());
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || labels[i] >= classes) {
      throw Error(what + ": label " + std::to_string(labels[i]) + " of image " + predictions.ids[i] +
                  " is outside 0.." + std::to_string(classes - 1));
    }
  }
}

std::vector<bool> is_class(const std::vector<int>& labels, int class_index) {
  std::vector<bool> flags(labels.size());
  for (std::size_t i = 0; i < labels.size(); ++i) flags[i] = labels[i] == class_index;
  return flags;
}

}  // namespace derm::detail
