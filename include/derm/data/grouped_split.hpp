#pragma once
// Grouped, stratified, seeded splitting: all items of one group (a lesion, a
// patient, a set of duplicate images) land in the same split, and each class is
// spread over the splits in the requested fractions as closely as whole groups allow.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace derm {

struct SplitItem {
  int label = 0;            // stratum (class index)
  std::string group;        // items with the same non-empty group stay together
  std::string fixed_split;  // non-empty: the item keeps it and pulls its group along
};

// Fractions: e.g. {{"train",0.8},{"val",0.1},{"test",0.1}} (normalised to sum 1).
// Returns the split of each item. Deterministic for a given seed and input.
std::vector<std::string> grouped_split(const std::vector<SplitItem>& items,
                                       const std::vector<std::pair<std::string, double>>& fractions,
                                       std::uint64_t seed);

// "0.8,0.1,0.1" -> train/val/test; "0.9,0.1" -> train/test;
// "train=0.7,val=0.15,test=0.15" names them. derm::OptionError naming split_fractions otherwise.
std::vector<std::pair<std::string, double>> parse_split_fractions(const std::string& text);

}  // namespace derm
