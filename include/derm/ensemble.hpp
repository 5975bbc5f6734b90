#pragma once
// Decision rules of an ensemble of M members (derm::Predictions), per image i:
//
// Multi-class decision
// - mean_probability: argmax_c of p_mean(i,c) = (1/M) sum_m p_m(i,c).
// - majority_vote: every member votes for its own argmax class; the class with
//   the most votes wins; a tie in votes goes to the tied class with the higher
//   p_mean, then to the lower class index.
// Any argmax tie within one member's (or the mean's) probabilities goes to the
// lower class index.
//
// One-vs-rest score of class c (ranked for AUC/ROC)
// - mean_probability: p_mean(i,c).
// - majority_vote: the fraction of members voting for c (0, 1/M, ..., 1); it
//   has many ties, which the exact AUC handles.
//
// One-vs-rest decision of class c at threshold t
// - mean_probability: positive when p_mean(i,c) >= t.
// - majority_vote: positive when more than half of the members have
//   p_m(i,c) >= t, i.e. when the k-th largest member probability is >= t with
//   k = floor(M/2) + 1 (the median for odd M): majority_threshold_scores()
//   returns that order statistic, so thresholds for this rule can be chosen
//   like any other score threshold.
// For one member both rules reduce to that member's probabilities and argmax.
#include <string>
#include <vector>

#include "derm/predictions.hpp"

namespace derm {

enum class DecisionRule { majority_vote, mean_probability };

// The positive classes by the manifest convention: all classes but the last,
// which is the negative ("rest") class. E.g. melanoma,seborrheic_keratosis,nevus
// -> melanoma,seborrheic_keratosis; melanoma,benign -> melanoma.
std::vector<std::string> default_positive_classes(const std::vector<std::string>& classes);

// "majority_vote" / "mean_probability", the names used in reports.
std::string rule_name(DecisionRule rule);

// derm::Error unless the predictions have classes, images, members, and every
// member gives one probability per class per image, none NaN.
void check_predictions(const Predictions& predictions);

// p_mean(i,c), [image][class].
std::vector<std::vector<double>> mean_probabilities(const Predictions& predictions);

// The multi-class decision of the rule, one class index per image.
std::vector<int> predicted_classes(const Predictions& predictions, DecisionRule rule);

// The one-vs-rest ranking score of class c (see above), one per image.
std::vector<double> one_vs_rest_scores(const Predictions& predictions, DecisionRule rule, int class_index);

// The score whose ">= t" is the rule's one-vs-rest decision at threshold t:
// p_mean for mean_probability, the k-th largest member probability for
// majority_vote (see above).
std::vector<double> decision_scores(const Predictions& predictions, DecisionRule rule, int class_index);
std::vector<double> majority_threshold_scores(const Predictions& predictions, int class_index);

// decision_scores(...) >= threshold, one flag per image.
std::vector<bool> one_vs_rest_decisions(const Predictions& predictions, DecisionRule rule, int class_index,
                                        double threshold);

// Member m alone, as an ensemble of one.
Predictions member_predictions(const Predictions& predictions, std::size_t member);

}  // namespace derm
