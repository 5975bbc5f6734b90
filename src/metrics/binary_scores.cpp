#include "binary_scores.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "derm/core/error.hpp"

namespace derm {
namespace detail {

void check_binary_input(const std::vector<double>& scores, const std::vector<bool>& is_positive,
                        const std::string& what) {
  if (scores.empty()) throw Error(what + ": no images");
  if (scores.size() != is_positive.size()) {
    throw Error(what + ": " + std::to_string(scores.size()) + " scores but " +
                std::to_string(is_positive.size()) + " labels");
  }
  for (std::size_t i = 0; i < scores.size(); ++i) {
    if (std::isnan(scores[i])) throw Error(what + ": score of image " + std::to_string(i) + " is NaN");
  }
}

std::vector<std::size_t> ascending_order(const std::vector<double>& scores) {
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] < scores[b]; });
  return order;
}

double weighted_auc(const std::vector<double>& scores, const std::vector<bool>& is_positive,
                    const std::vector<std::size_t>& ascending, const std::vector<std::int32_t>& weights) {
  // Walk tie groups upwards: each positive beats every negative below its group
  // and half-beats the negatives of its own group.
  double pairs_won = 0;
  double negatives_below = 0;
  double positives_total = 0;
  std::size_t k = 0;
  while (k < ascending.size()) {
    const double group_score = scores[ascending[k]];
    double group_positives = 0;
    double group_negatives = 0;
    for (; k < ascending.size() && scores[ascending[k]] == group_score; ++k) {
      const std::size_t i = ascending[k];
      const double weight = weights.empty() ? 1.0 : weights[i];
      (is_positive[i] ? group_positives : group_negatives) += weight;
    }
    pairs_won += group_positives * (negatives_below + 0.5 * group_negatives);
    negatives_below += group_negatives;
    positives_total += group_positives;
  }
  if (positives_total == 0 || negatives_below == 0) return std::numeric_limits<double>::quiet_NaN();
  return pairs_won / (positives_total * negatives_below);
}

}  // namespace detail

}  // namespace derm
