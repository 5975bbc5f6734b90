#pragma once
// Internal helpers shared by the metric sources: input checks and the weighted
// Mann-Whitney walk used both for the exact AUC and for bootstrap resamples.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace derm::detail {

// derm::Error (naming `what`) for empty input, mismatched lengths or NaN scores.
void check_binary_input(const std::vector<double>& scores, const std::vector<bool>& is_positive,
                        const std::string& what);

// Image indices sorted by ascending score (stable).
std::vector<std::size_t> ascending_order(const std::vector<double>& scores);

// Mann-Whitney AUC where image i counts weights[i] times (empty weights = all 1).
// Returns NaN when the weighted sample lacks positives or negatives.
double weighted_auc(const std::vector<double>& scores, const std::vector<bool>& is_positive,
                    const std::vector<std::size_t>& ascending, const std::vector<std::int32_t>& weights);

}  // namespace derm::detail
