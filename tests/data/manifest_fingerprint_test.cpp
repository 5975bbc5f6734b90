#include "derm/data/manifest_fingerprint.hpp"

#include <gtest/gtest.h>

namespace derm {
namespace {

Manifest two_images() {
  Manifest m;
  m.classes = {"melanoma", "nevus"};
  ManifestEntry a;
  a.id = "ISIC_1";
  a.label = "melanoma";
  a.label_index = 0;
  a.split = "train";
  a.content_hash = "aa";
  a.path = "/data/a.jpg";
  ManifestEntry b = a;
  b.id = "ISIC_2";
  b.label = "nevus";
  b.label_index = 1;
  b.split = "val";
  b.content_hash = "bb";
  b.path = "/data/b.jpg";
  m.entries = {a, b};
  return m;
}

// The values derm wrote into checkpoints, member records and augment-run.json
// before the two fingerprints shared one implementation (FNV-1a 64 of the
// fields, each followed by 0xFF), computed independently: runs made then still resume.
TEST(ManifestFingerprint, KeepsTheValuesOfEarlierRuns) {
  const Manifest m = two_images();
  EXPECT_EQ(manifest_fingerprint(m), "3c21548e722004e2");
  EXPECT_EQ(split_fingerprint(m, "train"), "bc6d1be2b538c38a");
}

TEST(ManifestFingerprint, FollowsTheContentNotThePaths) {
  const Manifest m = two_images();
  Manifest moved = m;
  for (auto& e : moved.entries) e.path = "/elsewhere/" + e.id + ".jpg";
  EXPECT_EQ(manifest_fingerprint(moved), manifest_fingerprint(m));
  EXPECT_EQ(split_fingerprint(moved, "train"), split_fingerprint(m, "train"));

  Manifest relabelled = m;
  relabelled.entries[1].content_hash = "cc";
  EXPECT_NE(manifest_fingerprint(relabelled), manifest_fingerprint(m));
  EXPECT_EQ(split_fingerprint(relabelled, "train"), split_fingerprint(m, "train"));  // a val image changed
  relabelled.entries[0].split = "test";
  EXPECT_NE(manifest_fingerprint(relabelled), manifest_fingerprint(m));
}

}  // namespace
}  // namespace derm
