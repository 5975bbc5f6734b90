#include "prep_duplicates.hpp"

#include <numeric>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "derm/data/perceptual_hash.hpp"

namespace derm::detail {

std::vector<DuplicatePair> find_duplicates(const std::vector<Candidate*>& kept, int near_distance) {
  std::vector<DuplicatePair> pairs;
  for (std::size_t i = 0; i < kept.size(); ++i) {
    for (std::size_t j = i + 1; j < kept.size(); ++j) {
      const bool identical = kept[i]->content_hash == kept[j]->content_hash;
      const int distance = hamming_distance(kept[i]->phash, kept[j]->phash);
      if (identical || (near_distance >= 0 && distance <= near_distance)) {
        pairs.push_back({i, j, identical, distance});
      }
    }
  }
  return pairs;
}

Groups::Groups(std::size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0); }
std::size_t Groups::find(std::size_t i) { return parent[i] == i ? i : parent[i] = find(parent[i]); }
void Groups::join(std::size_t a, std::size_t b) { parent[find(a)] = find(b); }

Groups duplicate_groups(const std::vector<Candidate*>& kept, const std::vector<DuplicatePair>& pairs) {
  Groups groups(kept.size());
  std::unordered_map<std::string, std::size_t> first_of_key;
  for (std::size_t i = 0; i < kept.size(); ++i) {
    for (const auto& key : {"lesion:" + kept[i]->image.lesion_id, "patient:" + kept[i]->image.patient_id}) {
      if (key.back() == ':') continue;
      const auto [it, first] = first_of_key.emplace(key, i);
      if (!first) groups.join(i, it->second);
    }
  }
  for (const auto& p : pairs) groups.join(p.a, p.b);
  return groups;
}

namespace {

int split_rank(const std::string& split) {
  if (split == "test") return 2;
  if (split == "val" || split == "validation") return 1;
  return 0;
}

}  // namespace

DuplicateReport report_duplicates(const std::vector<DuplicatePair>& pairs, const std::vector<Candidate*>& kept,
                                  const Task& task, bool drop_leaks, Exclusions& excluded) {
  DuplicateReport report;
  for (const auto& p : pairs) {
    Candidate& a = *kept[p.a];
    Candidate& b = *kept[p.b];
    const bool leak = a.image.split != b.image.split;
    std::string dropped;
    if (leak && drop_leaks && !a.dropped && !b.dropped) {
      Candidate& victim = split_rank(a.image.split) < split_rank(b.image.split) ? a : b;
      const Candidate& kept_copy = &victim == &a ? b : a;
      victim.dropped = true;
      dropped = victim.image.id;
      excluded.add(victim.image, "leak: duplicate of '" + kept_copy.image.id + "' in split " + kept_copy.image.split +
                                     " (drop_leaks)");
    }
    (p.identical ? report.identical_pairs : report.near_pairs)++;
    report.leaks += leak ? 1 : 0;
    report.identical_leaks += leak && p.identical ? 1 : 0;
    report.identical_test_leaks += leak && p.identical && (a.image.split == "test" || b.image.split == "test") ? 1 : 0;
    report.pairs.push_back({{"kind", p.identical ? "identical" : "near"},
                            {"ids", {a.image.id, b.image.id}},
                            {"splits", {a.image.split, b.image.split}},
                            {"labels", {task.classes[static_cast<std::size_t>(a.label_index)],
                                        task.classes[static_cast<std::size_t>(b.label_index)]}},
                            {"phash_distance", p.distance},
                            {"leak", leak},
                            {"dropped", dropped}});
    if (leak) {
      spdlog::warn("leak: {} ({}) and {} ({}) are {} duplicates{}", a.image.id, a.image.split, b.image.id,
                   b.image.split, p.identical ? "byte-identical" : "near", dropped.empty() ? "" : ", dropped " + dropped);
    }
  }
  return report;
}

}  // namespace derm::detail
