#pragma once
// Internal: the decisions an evaluation reports (the ensemble's rules, then
// each member alone) and the predictions each one is computed from.
#include <optional>
#include <string>
#include <vector>

#include "derm/metrics/ensemble.hpp"

namespace derm::detail {

struct NamedDecision {
  std::string name;                   // "majority_vote", "mean_probability", "member_<m>"
  DecisionRule rule;                  // members alone use mean_probability (= their own probability)
  std::optional<std::size_t> member;  // set for a member alone
  std::string score_name;             // what the one-vs-rest ranking score is
};

// majority_vote only for ensembles of more than one member; members only when
// asked and when there are more than one.
std::vector<NamedDecision> decisions_of(const Predictions& predictions, bool include_members);

Predictions predictions_of(const Predictions& predictions, const NamedDecision& decision);

// Class indices of the positive classes; empty names = default_positive_classes.
std::vector<int> positive_class_indices(const std::vector<std::string>& classes,
                                        const std::vector<std::string>& names);

void check_labels(const std::vector<int>& labels, const Predictions& predictions, const std::string& what);

std::vector<bool> is_class(const std::vector<int>& labels, int class_index);

}  // namespace derm::detail
