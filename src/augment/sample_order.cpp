// Which source image each sample uses.
#include <numeric>

#include "derm/core/error.hpp"
#include "derm/augment/sample_order.hpp"
#include "derm/augment/sample_seed.hpp"
#include "sample_rng.hpp"

namespace derm {

namespace {
constexpr std::uint64_t kOrderStream = 0x6F726465720000ULL;  // "order": apart from sample seeds
}

SampleOrder::SampleOrder(std::uint64_t seed, std::size_t source_count)
    : seed_(seed), count_(source_count) {
  if (source_count == 0) throw Error("sample order: no source images");
}

std::size_t SampleOrder::source_of(std::int64_t sample_index) {
  const auto count = static_cast<std::int64_t>(count_);
  const std::int64_t cycle = sample_index / count;
  if (cycle != cycle_) {
    permutation_.resize(count_);
    std::iota(permutation_.begin(), permutation_.end(), std::size_t{0});
    detail::SampleRng rng(derive_seed(seed_, kOrderStream, static_cast<std::uint64_t>(cycle)));
    detail::shuffle(permutation_, rng);
    cycle_ = cycle;
  }
  return permutation_[static_cast<std::size_t>(sample_index % count)];
}

}  // namespace derm
