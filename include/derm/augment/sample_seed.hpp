#pragma once
// The seed of each augmented sample. Determinism: every random value of the
// augmentation is drawn from derm's own SplitMix64 stream seeded by the sample
// seed (no std::*_distribution, whose output differs between standard
// libraries), so the drawn parameters are identical on every platform; the
// pixels are identical for the same build of OpenCV.
#include <cstdint>

namespace derm {

// The seed of one sample from a run seed and two indices, by SplitMix64 mixing:
// derive_seed(run_seed, epoch, sample_index) for on-the-fly training;
// derm-augment uses derive_seed(seed, 0, k) for sample k of its shards.
std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t a, std::uint64_t b);

}  // namespace derm
