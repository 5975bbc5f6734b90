// Kept apart from predictions_csv.cpp so that only callers of this function
// link against read_manifest (src/data/manifest.cpp).
#include "derm/predictions_csv.hpp"

#include "derm/error.hpp"

namespace derm {

GroundTruth read_manifest_ground_truth(const std::filesystem::path& manifest_path, const std::string& split) {
  try {
    return ground_truth_from_manifest(read_manifest(manifest_path), split);
  } catch (const Error& e) {
    const std::string message = e.what();
    if (message.find(manifest_path.string()) != std::string::npos) throw;
    throw Error(manifest_path.string() + ": " + message);
  }
}

}  // namespace derm
