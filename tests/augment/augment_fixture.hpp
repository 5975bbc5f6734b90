#pragma once
// A small manifest of synthetic lesion images for the augmentation tests.
#include <filesystem>
#include <string>

#include "derm/manifest.hpp"
#include "test_support.hpp"

namespace derm::testing {

// `count` images of varied sizes in folder/images, split "train", two classes;
// the manifest is also written to folder/manifest.csv.
inline Manifest make_augment_manifest(const std::filesystem::path& folder, int count) {
  std::filesystem::create_directories(folder / "images");
  Manifest manifest;
  manifest.classes = {"melanoma", "nevus"};
  for (int i = 0; i < count; ++i) {
    ManifestEntry e;
    e.id = "IMG_" + std::to_string(i);
    e.width = 60 + 13 * i;
    e.height = 50 + 7 * i;
    e.path = write_rgb(folder / "images" / (e.id + ".png"),
                       synthetic_lesion(e.width, e.height, static_cast<std::uint64_t>(i)))
                 .string();
    e.label_index = i % 3 == 0 ? 0 : 1;
    e.label = manifest.classes[static_cast<std::size_t>(e.label_index)];
    e.split = "train";
    e.content_hash = std::string(63, '0') + std::to_string(i % 10);
    e.source = "synthetic";
    manifest.entries.push_back(e);
  }
  write_manifest(folder / "manifest.csv", manifest);
  return manifest;
}

}  // namespace derm::testing
