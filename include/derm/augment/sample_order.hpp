#pragma once
// Which source image each augmented sample uses: the k-th in a seeded order over
// the manifest split, a fresh permutation each time the split is used up.
#include <cstdint>
#include <vector>

namespace derm {

class SampleOrder {
 public:
  SampleOrder(std::uint64_t seed, std::size_t source_count);
  // Index into the split of sample k's source. Keeps the permutation of the
  // last cycle used, so consecutive calls cost O(1).
  std::size_t source_of(std::int64_t sample_index);

 private:
  std::uint64_t seed_;
  std::size_t count_;
  std::int64_t cycle_ = -1;
  std::vector<std::size_t> permutation_;
};

}  // namespace derm
