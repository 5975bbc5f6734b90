#include "derm/data/grouped_split.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <sstream>

#include "derm/core/error.hpp"

namespace derm {

std::vector<std::string> grouped_split(const std::vector<SplitItem>& items,
                                       const std::vector<std::pair<std::string, double>>& fractions,
                                       std::uint64_t seed) {
  if (fractions.empty()) throw Error("grouped split: no split fractions");
  // Groups in order of first appearance; an empty group is a group of one.
  std::vector<std::vector<std::size_t>> groups;
  std::map<std::string, std::size_t> group_of_key;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (items[i].group.empty()) {
      groups.push_back({i});
      continue;
    }
    const auto [it, inserted] = group_of_key.emplace(items[i].group, groups.size());
    if (inserted) groups.emplace_back();
    groups[it->second].push_back(i);
  }

  std::vector<std::string> result(items.size());
  std::map<int, std::vector<std::size_t>> free_groups_of_label;
  std::map<int, double> items_of_label;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    std::string fixed;
    for (const auto i : groups[g]) {
      if (!items[i].fixed_split.empty()) {
        fixed = items[i].fixed_split;
        break;
      }
    }
    if (!fixed.empty()) {
      for (const auto i : groups[g]) result[i] = fixed;
      continue;
    }
    const int label = items[groups[g].front()].label;
    free_groups_of_label[label].push_back(g);
    items_of_label[label] += static_cast<double>(groups[g].size());
  }

  double total_fraction = 0;
  for (const auto& [name, fraction] : fractions) total_fraction += fraction;
  std::mt19937_64 rng(seed);
  for (auto& [label, label_groups] : free_groups_of_label) {
    std::shuffle(label_groups.begin(), label_groups.end(), rng);
    std::vector<double> assigned(fractions.size(), 0.0);
    for (const auto g : label_groups) {
      // The split furthest below its target share of this class takes the group.
      std::size_t best = 0;
      double best_deficit = -1e300;
      for (std::size_t s = 0; s < fractions.size(); ++s) {
        const double target = fractions[s].second / total_fraction * items_of_label[label];
        const double deficit = target - assigned[s];
        if (deficit > best_deficit) {
          best_deficit = deficit;
          best = s;
        }
      }
      assigned[best] += static_cast<double>(groups[g].size());
      for (const auto i : groups[g]) result[i] = fractions[best].first;
    }
  }
  return result;
}

std::vector<std::pair<std::string, double>> parse_split_fractions(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  for (std::string part; std::getline(stream, part, ',');) parts.push_back(part);
  const auto bad = [&](const std::string& why) {
    return OptionError("split_fractions", "'" + text + "': " + why +
                                              " (expected e.g. 0.8,0.1,0.1 or train=0.7,val=0.15,test=0.15)");
  };
  if (parts.size() < 2) throw bad("need at least two fractions");
  const std::vector<std::string> default_names =
      parts.size() == 2 ? std::vector<std::string>{"train", "test"}
                        : std::vector<std::string>{"train", "val", "test"};
  std::vector<std::pair<std::string, double>> fractions;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    std::string name;
    std::string number = parts[i];
    const auto equals = parts[i].find('=');
    if (equals != std::string::npos) {
      name = parts[i].substr(0, equals);
      number = parts[i].substr(equals + 1);
    } else if (i < default_names.size()) {
      name = default_names[i];
    } else {
      throw bad("name the splits when there are more than three");
    }
    std::size_t used = 0;
    double value = 0;
    try {
      value = std::stod(number, &used);
    } catch (const std::exception&) {
      throw bad("'" + number + "' is not a number");
    }
    if (used != number.size() || !(value > 0) || name.empty()) throw bad("bad entry '" + parts[i] + "'");
    for (const auto& [other, unused] : fractions) {
      if (other == name) throw bad("split '" + name + "' given twice");
    }
    fractions.emplace_back(name, value);
  }
  double sum = 0;
  for (const auto& f : fractions) sum += f.second;
  if (std::abs(sum - 1.0) > 1e-6) {
    std::ostringstream total;
    total << sum;
    throw bad("the fractions sum to " + total.str() + ", not 1");
  }
  return fractions;
}

}  // namespace derm
