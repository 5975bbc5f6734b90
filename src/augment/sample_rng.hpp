#pragma once
// derm's own random numbers: SplitMix64 (Steele, Lea, Flood 2014), with the
// conversions written out so that the values are the same on every platform.
// Header-only on purpose: a few inline functions on the hot path of every sample.
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

namespace derm::detail {

// The SplitMix64 finaliser: a bijective 64-bit mixer.
inline std::uint64_t mix64(std::uint64_t x) {
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

class SampleRng {
 public:
  explicit SampleRng(std::uint64_t seed) : state_(seed) {}

  std::uint64_t next() {
    state_ += 0x9E3779B97F4A7C15ULL;
    return mix64(state_);
  }
  // Uniform in [0, 1) with 53 random bits.
  double uniform01() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform01(); }
  // Log-uniform in [lo, hi], both > 0.
  double log_uniform(double lo, double hi) {
    return std::exp(uniform(std::log(lo), std::log(hi)));
  }
  bool bernoulli(double p) { return uniform01() < p; }
  // Uniform integer in [lo, hi] (modulo bias below 2^-40 for small ranges).
  std::int64_t integer(std::int64_t lo, std::int64_t hi) {
    const auto span = static_cast<std::uint64_t>(hi - lo) + 1;
    return lo + static_cast<std::int64_t>(next() % span);
  }

 private:
  std::uint64_t state_;
};

// Fisher-Yates with SampleRng (std::shuffle differs between standard libraries).
template <typename T>
void shuffle(std::vector<T>& items, SampleRng& rng) {
  for (std::size_t i = items.size(); i > 1; --i) {
    const auto j = static_cast<std::size_t>(rng.integer(0, static_cast<std::int64_t>(i - 1)));
    std::swap(items[i - 1], items[j]);
  }
}

}  // namespace derm::detail
