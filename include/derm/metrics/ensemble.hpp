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
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "derm/metrics/predictions.hpp"

namespace derm {

enum class DecisionRule { majority_vote, mean_probability };

// The positive classes by the manifest convention: all classes but the last,
// which is the negative ("rest") class. E.g. melanoma,seborrheic_keratosis,nevus
// -> melanoma,seborrheic_keratosis; melanoma,benign -> melanoma.
std::vector<std::string> default_positive_classes(const std::vector<std::string>& classes);


// derm::Error unless the predictions have classes, images, members, and every
// member gives one probability per class per image, none NaN.
void check_predictions(const Predictions& predictions);

// p_mean(i,c), [image][class].
std::vector<std::vector<double>> mean_probabilities(const Predictions& predictions);

// Both rules' multi-class decisions on each image, from one count of the votes.
struct EnsembleDecisions {
  std::vector<std::vector<double>> mean_probabilities;  // [image][class]: p_mean
  std::vector<std::vector<int>> member_classes;         // [image][member]: each member's vote
  std::vector<std::vector<int>> votes;                  // [image][class]: members voting for it
  std::vector<int> majority_vote;                       // [image]
  std::vector<int> mean_probability;                    // [image]

  // The images of `more` after these.
  void append(const EnsembleDecisions& more);
};
EnsembleDecisions decide(const Predictions& predictions);

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

// The one-vs-rest AUC of each positive class (all but the last) under the
// rule, for the classes with both positive and negative images among `labels`
// (one class index per image); their mean when every positive class has one.
struct PositiveClassAucs {
  std::map<std::string, double> by_class;
  double mean = std::numeric_limits<double>::quiet_NaN();
};
PositiveClassAucs positive_class_aucs(const Predictions& predictions, const std::vector<int>& labels,
                                      DecisionRule rule);

// Member m alone, as an ensemble of one.
Predictions member_predictions(const Predictions& predictions, std::size_t member);

}  // namespace derm
