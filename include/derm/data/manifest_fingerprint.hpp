#pragma once
// Fingerprints of what a manifest says, not where its files are (so the data may
// move): hex FNV-1a 64 over its fields, each followed by a separator byte.
#include <string>

#include "derm/data/manifest.hpp"

namespace derm {

// Every entry's id, label, split and content hash, in manifest order: what a
// training run depends on (derm-train refuses to resume or mix members across it).
std::string manifest_fingerprint(const Manifest& manifest);

// The classes, then the split's ids, labels, label indices and content hashes:
// what the samples of a derm-augment run depend on.
std::string split_fingerprint(const Manifest& manifest, const std::string& split);

}  // namespace derm
