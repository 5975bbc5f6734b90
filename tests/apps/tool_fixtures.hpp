#pragma once
// Fixtures for the tests of the network tools: small model files and
// synthetic labelled image sets.
#include <filesystem>
#include <string>
#include <vector>

#include "derm/data/manifest.hpp"

namespace derm::testing {

// A freshly initialised 75x75 model (no aux head) for the given classes.
std::filesystem::path write_small_model(const std::filesystem::path& path, const std::vector<std::string>& classes);

// `per_class` synthetic 96x96 lesion images per class, alternately in train and
// val, written under dir/images, with a manifest at dir/manifest.csv. Class 0
// lesions are dark and large, class 1 light and small, so they can be learned.
std::filesystem::path write_synthetic_manifest(const std::filesystem::path& dir, int per_class);

// The tensors of a model file, compared exactly.
bool same_model_weights(const std::filesystem::path& a, const std::filesystem::path& b);

// Shell-quoted path.
std::string quoted(const std::filesystem::path& path);

}  // namespace derm::testing
