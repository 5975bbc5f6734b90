#include "derm/augment/sample_seed.hpp"

#include "sample_rng.hpp"

namespace derm {

std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t a, std::uint64_t b) {
  std::uint64_t h = detail::mix64(seed + 0x9E3779B97F4A7C15ULL);
  h = detail::mix64(h ^ (a + 0x632BE59BD9B4E019ULL));
  return detail::mix64(h ^ (b + 0x8CB92BA72F3D8DD7ULL));
}

}  // namespace derm
