#include "derm/metrics/ensemble.hpp"

#include <algorithm>
#include <cmath>
#include <functional>

#include "derm/core/error.hpp"
#include "derm/metrics/metrics.hpp"

namespace derm {
namespace {

template <typename Probabilities>
int argmax(const Probabilities& probabilities) {
  int best = 0;
  for (int c = 1; c < static_cast<int>(probabilities.size()); ++c) {
    if (probabilities[c] > probabilities[best]) best = c;
  }
  return best;
}

void check_class_index(const Predictions& predictions, int class_index) {
  if (class_index < 0 || class_index >= static_cast<int>(predictions.classes.size())) {
    throw Error("predictions: class index " + std::to_string(class_index) + " out of range 0.." +
                std::to_string(predictions.classes.size() - 1));
  }
}

}  // namespace

std::vector<std::string> default_positive_classes(const std::vector<std::string>& classes) {
  if (classes.size() < 2) throw Error("need at least two classes, got " + std::to_string(classes.size()));
  return {classes.begin(), classes.end() - 1};
}

void check_predictions(const Predictions& predictions) {
  const std::size_t classes = predictions.classes.size();
  if (classes < 2) throw Error("predictions: need at least two classes, got " + std::to_string(classes));
  if (predictions.images() == 0) throw Error("predictions: no images");
  if (predictions.members() == 0) throw Error("predictions: no ensemble members");
  for (std::size_t m = 0; m < predictions.members(); ++m) {
    const auto& member = predictions.member_probabilities[m];
    if (member.size() != predictions.images()) {
      throw Error("predictions: member " + std::to_string(m) + " has " + std::to_string(member.size()) +
                  " images, expected " + std::to_string(predictions.images()));
    }
    for (std::size_t i = 0; i < member.size(); ++i) {
      if (member[i].size() != classes) {
        throw Error("predictions: member " + std::to_string(m) + " gives " + std::to_string(member[i].size()) +
                    " probabilities for image " + predictions.ids[i] + ", expected " + std::to_string(classes));
      }
      for (const float p : member[i]) {
        if (std::isnan(p)) {
          throw Error("predictions: member " + std::to_string(m) + " gives NaN for image " + predictions.ids[i]);
        }
      }
    }
  }
}

std::vector<std::vector<double>> mean_probabilities(const Predictions& predictions) {
  check_predictions(predictions);
  const std::size_t classes = predictions.classes.size();
  std::vector<std::vector<double>> mean(predictions.images(), std::vector<double>(classes, 0.0));
  for (const auto& member : predictions.member_probabilities) {
    for (std::size_t i = 0; i < mean.size(); ++i) {
      for (std::size_t c = 0; c < classes; ++c) mean[i][c] += member[i][c];
    }
  }
  const auto members = static_cast<double>(predictions.members());
  for (auto& row : mean) {
    for (double& p : row) p /= members;
  }
  return mean;
}

void EnsembleDecisions::append(const EnsembleDecisions& more) {
  mean_probabilities.insert(mean_probabilities.end(), more.mean_probabilities.begin(), more.mean_probabilities.end());
  member_classes.insert(member_classes.end(), more.member_classes.begin(), more.member_classes.end());
  votes.insert(votes.end(), more.votes.begin(), more.votes.end());
  majority_vote.insert(majority_vote.end(), more.majority_vote.begin(), more.majority_vote.end());
  mean_probability.insert(mean_probability.end(), more.mean_probability.begin(), more.mean_probability.end());
}

EnsembleDecisions decide(const Predictions& predictions) {
  EnsembleDecisions d;
  d.mean_probabilities = mean_probabilities(predictions);
  const std::size_t images = predictions.images();
  d.member_classes.assign(images, {});
  d.votes.assign(images, std::vector<int>(predictions.classes.size(), 0));
  for (std::size_t i = 0; i < images; ++i) {
    for (const auto& member : predictions.member_probabilities) {
      const int vote = argmax(member[i]);
      d.member_classes[i].push_back(vote);
      d.votes[i][static_cast<std::size_t>(vote)] += 1;
    }
    const auto& votes = d.votes[i];
    const auto& mean = d.mean_probabilities[i];
    int winner = 0;
    for (int c = 1; c < static_cast<int>(votes.size()); ++c) {
      if (votes[c] > votes[winner] || (votes[c] == votes[winner] && mean[c] > mean[winner])) winner = c;
    }
    d.majority_vote.push_back(winner);
    d.mean_probability.push_back(argmax(mean));
  }
  return d;
}

std::vector<int> predicted_classes(const Predictions& predictions, DecisionRule rule) {
  EnsembleDecisions d = decide(predictions);
  return rule == DecisionRule::majority_vote ? std::move(d.majority_vote) : std::move(d.mean_probability);
}

std::vector<double> one_vs_rest_scores(const Predictions& predictions, DecisionRule rule, int class_index) {
  check_class_index(predictions, class_index);
  if (rule == DecisionRule::mean_probability) return decision_scores(predictions, rule, class_index);
  const EnsembleDecisions d = decide(predictions);
  std::vector<double> fractions;
  for (const auto& votes : d.votes) {
    fractions.push_back(static_cast<double>(votes[static_cast<std::size_t>(class_index)]) /
                        static_cast<double>(predictions.members()));
  }
  return fractions;
}

std::vector<double> majority_threshold_scores(const Predictions& predictions, int class_index) {
  check_predictions(predictions);
  check_class_index(predictions, class_index);
  const std::size_t members = predictions.members();
  const std::size_t k = members / 2 + 1;  // votes needed for "more than half"
  std::vector<double> scores(predictions.images());
  std::vector<double> column(members);
  for (std::size_t i = 0; i < scores.size(); ++i) {
    for (std::size_t m = 0; m < members; ++m) column[m] = predictions.member_probabilities[m][i][class_index];
    std::nth_element(column.begin(), column.begin() + static_cast<std::ptrdiff_t>(k - 1), column.end(),
                     std::greater<double>());
    scores[i] = column[k - 1];
  }
  return scores;
}

std::vector<double> decision_scores(const Predictions& predictions, DecisionRule rule, int class_index) {
  check_class_index(predictions, class_index);
  if (rule == DecisionRule::majority_vote) return majority_threshold_scores(predictions, class_index);
  const std::vector<std::vector<double>> mean = mean_probabilities(predictions);
  std::vector<double> scores(mean.size());
  for (std::size_t i = 0; i < mean.size(); ++i) scores[i] = mean[i][class_index];
  return scores;
}

std::vector<bool> one_vs_rest_decisions(const Predictions& predictions, DecisionRule rule, int class_index,
                                        double threshold) {
  const std::vector<double> scores = decision_scores(predictions, rule, class_index);
  std::vector<bool> decisions(scores.size());
  for (std::size_t i = 0; i < scores.size(); ++i) decisions[i] = scores[i] >= threshold;
  return decisions;
}

PositiveClassAucs positive_class_aucs(const Predictions& predictions, const std::vector<int>& labels,
                                      DecisionRule rule) {
  if (labels.size() != predictions.images()) {
    throw Error("predictions: " + std::to_string(labels.size()) + " labels for " +
                std::to_string(predictions.images()) + " images");
  }
  PositiveClassAucs aucs;
  const auto positives = default_positive_classes(predictions.classes);
  double sum = 0;
  for (std::size_t c = 0; c < positives.size(); ++c) {
    std::vector<bool> is_positive;
    for (const int label : labels) is_positive.push_back(label == static_cast<int>(c));
    const auto count = std::count(is_positive.begin(), is_positive.end(), true);
    if (count == 0 || count == static_cast<std::ptrdiff_t>(is_positive.size())) continue;
    const double auc = auc_roc(one_vs_rest_scores(predictions, rule, static_cast<int>(c)), is_positive);
    aucs.by_class[positives[c]] = auc;
    sum += auc;
  }
  if (!aucs.by_class.empty() && aucs.by_class.size() == positives.size()) {
    aucs.mean = sum / static_cast<double>(positives.size());
  }
  return aucs;
}

Predictions member_predictions(const Predictions& predictions, std::size_t member) {
  if (member >= predictions.members()) {
    throw Error("predictions: member " + std::to_string(member) + " out of range, the ensemble has " +
                std::to_string(predictions.members()));
  }
  Predictions single;
  single.classes = predictions.classes;
  single.ids = predictions.ids;
  single.member_probabilities = {predictions.member_probabilities[member]};
  if (!predictions.member_logits.empty()) single.member_logits = {predictions.member_logits[member]};
  return single;
}

}  // namespace derm
