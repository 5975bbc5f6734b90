#pragma once
// A small manifest of synthetic lesion images for the augmentation tests, and
// the fixture of the shard-writing tests.
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "derm/core/atomic_file.hpp"
#include "derm/core/error.hpp"
#include "derm/data/manifest.hpp"
#include "derm/augment/shard_files.hpp"
#include "derm/augment/shard_run.hpp"
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

// Five source images and a run of 7 samples in 3 shards, written under a temp dir.
class ShardRun : public ::testing::Test {
 protected:
  void SetUp() override { manifest_ = make_augment_manifest(dir_ / "data", 5); }

  ShardRunOptions options(const std::string& out) const {
    ShardRunOptions o;
    o.out_dir = dir_ / out;
    o.samples = 7;
    o.shard_size = 3;
    o.seed = 11;
    o.threads = 2;
    o.quiet = true;
    o.params.output_size = 48;
    o.params.cutout_probability = 1.0;
    return o;
  }

  std::vector<std::string> shard_bytes(const std::string& out) const {
    std::vector<std::string> shards;
    for (int i = 0; i < 3; ++i) shards.push_back(read_file(dir_ / out / shard_name(i)));
    return shards;
  }

  std::string error_of(const ShardRunOptions& o) const {
    try {
      write_augmented_shards(manifest_, o);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
  // The option write_augmented_shards refuses (derm::OptionError); empty when it refuses none.
  std::string refused_option(const ShardRunOptions& o) const {
    try {
      write_augmented_shards(manifest_, o);
    } catch (const OptionError& e) {
      return e.option();
    }
    return "";
  }

  TempDir dir_;
  Manifest manifest_;
};

}  // namespace derm::testing
