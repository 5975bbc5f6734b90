#pragma once
// Internal to derm-prep: byte-identical and near-duplicate images, the groups
// that a generated split keeps together, and the report of leaks across splits.
#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "derm/data/diagnosis.hpp"
#include "prep_images.hpp"

namespace derm::detail {

struct DuplicatePair {
  std::size_t a, b;  // indices into the kept candidates, a < b
  bool identical;
  int distance;
};

// Pairs with the same SHA-256, or pHash within near_distance (< 0: identical only).
std::vector<DuplicatePair> find_duplicates(const std::vector<Candidate*>& kept, int near_distance);

// Union-find over candidate indices for split groups.
struct Groups {
  std::vector<std::size_t> parent;
  explicit Groups(std::size_t n);
  std::size_t find(std::size_t i);
  void join(std::size_t a, std::size_t b);
};

// Candidates of one lesion, one patient or one duplicate pair in one group.
Groups duplicate_groups(const std::vector<Candidate*>& kept, const std::vector<DuplicatePair>& pairs);

struct DuplicateReport {
  nlohmann::json pairs = nlohmann::json::array();
  int identical_pairs = 0, near_pairs = 0, leaks = 0, identical_leaks = 0, identical_test_leaks = 0;
};

// Every pair with its splits and whether it leaks across them; with
// drop_leaks, the copy in the less evaluative split (train < val < test) of
// each leak is marked dropped and excluded.
DuplicateReport report_duplicates(const std::vector<DuplicatePair>& pairs, const std::vector<Candidate*>& kept,
                                  const Task& task, bool drop_leaks, Exclusions& excluded);

}  // namespace derm::detail
