#include <fstream>
#include <set>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "augment_fixture.hpp"
#include "derm/core/atomic_file.hpp"
#include "derm/core/error.hpp"
#include "derm/augment/sample_order.hpp"
#include "derm/augment/shard_files.hpp"
#include "derm/augment/sample_seed.hpp"
#include "derm/augment/shard_run.hpp"
#include "derm/augment/tar.hpp"
#include "derm/data/manifest_fingerprint.hpp"

namespace derm {
namespace {

namespace fs = std::filesystem;
using testing::ShardRun;
using testing::TempDir;

std::vector<TarEntry> entries_of(const fs::path& tar) {
  std::vector<TarEntry> entries;
  for_each_tar_entry(tar, [&](const TarEntry& e) { entries.push_back(e); });
  return entries;
}

TEST(Tar, WritesEntriesThatReadBack) {
  TempDir dir;
  const std::vector<std::pair<std::string, std::string>> files = {
      {"empty.txt", ""}, {"one.bin", "x"}, {"block.bin", std::string(512, 'b')},
      {"more.bin", std::string(513, 'm')}, {"000000001.json", "{\"a\":1}"}};
  write_file_atomically(dir / "a.tar", [&](std::ostream& out) {
    TarWriter tar(out);
    for (const auto& [name, data] : files) tar.add(name, data);
    tar.finish();
    EXPECT_EQ(tar.bytes_written() % 512, 0u);
  });
  EXPECT_EQ(fs::file_size(dir / "a.tar") % 512, 0u);
  const auto entries = entries_of(dir / "a.tar");
  ASSERT_EQ(entries.size(), files.size());
  for (std::size_t i = 0; i < files.size(); ++i) {
    EXPECT_EQ(entries[i].name, files[i].first);
    EXPECT_EQ(entries[i].data, files[i].second);
  }
}

TEST(Tar, SystemTarListsTheEntries) {
  if (testing::run_command("command -v tar") != 0) GTEST_SKIP() << "no tar program";
  TempDir dir;
  write_file_atomically(dir / "b.tar", [&](std::ostream& out) {
    TarWriter tar(out);
    tar.add("000000007.jpg", std::string(1000, 'j'));
    tar.add("000000007.json", "{}");
    tar.finish();
  });
  std::string listing;
  ASSERT_EQ(testing::run_command("tar -tvf " + (dir / "b.tar").string(), &listing), 0);
  EXPECT_NE(listing.find("000000007.jpg"), std::string::npos) << listing;
  EXPECT_NE(listing.find("1000"), std::string::npos) << listing;
  EXPECT_NE(listing.find("000000007.json"), std::string::npos) << listing;
}

TEST(Tar, RejectsLongNamesAndCorruptHeaders) {
  std::ostringstream sink;
  TarWriter tar(sink);
  EXPECT_THROW(tar.add(std::string(101, 'n'), "x"), Error);

  TempDir dir;
  write_file_atomically(dir / "c.tar", [&](std::ostream& out) {
    TarWriter writer(out);
    writer.add("a.txt", "hello");
    writer.finish();
  });
  std::string bytes = read_file(dir / "c.tar");
  bytes[3] = 'X';  // inside the name: the checksum no longer matches
  std::ofstream(dir / "c.tar", std::ios::binary | std::ios::trunc) << bytes;
  EXPECT_THROW(entries_of(dir / "c.tar"), Error);
  std::ofstream(dir / "d.tar", std::ios::binary) << bytes.substr(0, 300);
  EXPECT_THROW(entries_of(dir / "d.tar"), Error);
}

TEST(SampleOrder, EachCycleUsesEverySourceOnceAndIsSeeded) {
  SampleOrder order(5, 7);
  SampleOrder same(5, 7);
  SampleOrder other(6, 7);
  std::vector<std::size_t> first, second, from_other;
  for (std::int64_t k = 0; k < 14; ++k) {
    (k < 7 ? first : second).push_back(order.source_of(k));
    EXPECT_EQ(same.source_of(k), k < 7 ? first.back() : second.back());
    if (k < 7) from_other.push_back(other.source_of(k));
  }
  EXPECT_EQ(std::set<std::size_t>(first.begin(), first.end()).size(), 7u);
  EXPECT_EQ(std::set<std::size_t>(second.begin(), second.end()).size(), 7u);
  EXPECT_NE(first, second) << "each cycle is a fresh permutation";
  EXPECT_NE(first, from_other);
  EXPECT_EQ(order.source_of(3), first[3]) << "going back a cycle recomputes the same order";
  EXPECT_THROW(SampleOrder(1, 0), Error);
}

TEST_F(ShardRun, WritesWebDatasetShards) {
  const ShardRunSummary summary = write_augmented_shards(manifest_, options("out"));
  EXPECT_TRUE(summary.complete);
  EXPECT_EQ(summary.shards_total, 3);
  EXPECT_EQ(summary.shards_written, 3);
  EXPECT_EQ(summary.samples_written, 7);
  std::int64_t counted = 0;
  for (const auto& [label, n] : summary.class_counts) counted += n;
  EXPECT_EQ(counted, 7);

  std::int64_t expected_index = 0;
  for (int shard = 0; shard < 3; ++shard) {
    const auto entries = entries_of(dir_ / "out" / shard_name(shard));
    ASSERT_EQ(entries.size(), shard < 2 ? 6u : 2u);
    for (std::size_t i = 0; i < entries.size(); i += 2, ++expected_index) {
      const std::string key = sample_key(expected_index);
      EXPECT_EQ(entries[i].name, key + ".jpg");
      EXPECT_EQ(entries[i + 1].name, key + ".json");
      const std::vector<uchar> jpeg(entries[i].data.begin(), entries[i].data.end());
      const cv::Mat image = cv::imdecode(jpeg, cv::IMREAD_COLOR);
      EXPECT_EQ(image.size(), cv::Size(48, 48));
      const auto json = nlohmann::json::parse(entries[i + 1].data);
      EXPECT_EQ(json.at("sample_index").get<std::int64_t>(), expected_index);
      EXPECT_EQ(json.at("seed").get<std::uint64_t>(), derive_seed(11, 0, static_cast<std::uint64_t>(expected_index)));
      const int label_index = json.at("label_index").get<int>();
      EXPECT_EQ(json.at("label").get<std::string>(), manifest_.classes.at(static_cast<std::size_t>(label_index)));
      EXPECT_EQ(json.at("source_id").get<std::string>().rfind("IMG_", 0), 0u);
    }
  }
  const auto index = nlohmann::json::parse(read_file(dir_ / "out" / kIndexFileName));
  EXPECT_EQ(index.at("shards").size(), 3u);
  EXPECT_EQ(index.at("shards")[2].at("samples"), 1);
  EXPECT_EQ(index.at("samples"), 7);
  const auto run = nlohmann::json::parse(read_file(dir_ / "out" / kRunFileName));
  EXPECT_EQ(run.at("seed"), 11);
  EXPECT_EQ(run.at("params").at("output_size"), 48);
}

TEST_F(ShardRun, InterruptedAndResumedEqualsUninterrupted) {
  write_augmented_shards(manifest_, options("whole"));

  ShardRunOptions first_part = options("resumed");
  first_part.stop_after_shards = 1;
  const ShardRunSummary stopped = write_augmented_shards(manifest_, first_part);
  EXPECT_FALSE(stopped.complete);
  EXPECT_EQ(stopped.shards_written, 1);
  EXPECT_FALSE(fs::exists(dir_ / "resumed" / shard_name(1)));
  EXPECT_FALSE(fs::exists(dir_ / "resumed" / kIndexFileName));
  // A temporary left by a killed run is cleaned up.
  std::ofstream(dir_ / "resumed" / ".shard-000001.tar.tmp-dead") << "half";

  const ShardRunSummary resumed = write_augmented_shards(manifest_, options("resumed"));
  EXPECT_TRUE(resumed.complete);
  EXPECT_EQ(resumed.shards_skipped, 1);
  EXPECT_EQ(resumed.shards_written, 2);
  EXPECT_EQ(resumed.samples_written, 4);
  EXPECT_FALSE(fs::exists(dir_ / "resumed" / ".shard-000001.tar.tmp-dead"));
  EXPECT_EQ(shard_bytes("resumed"), shard_bytes("whole"));
  EXPECT_EQ(read_file(dir_ / "resumed" / kIndexFileName), read_file(dir_ / "whole" / kIndexFileName));

  // A lost shard in the middle is regenerated byte for byte.
  fs::remove(dir_ / "whole" / shard_name(1));
  const ShardRunSummary repaired = write_augmented_shards(manifest_, options("whole"));
  EXPECT_EQ(repaired.shards_written, 1);
  EXPECT_EQ(shard_bytes("whole"), shard_bytes("resumed"));
}

// A shard damaged after it was written (truncated, or holding other samples)
// is not complete: it is written again, byte for byte.
TEST_F(ShardRun, AnIncompleteShardIsWrittenAgain) {
  write_augmented_shards(manifest_, options("out"));
  const std::vector<std::string> whole = shard_bytes("out");
  fs::resize_file(dir_ / "out" / shard_name(1), 1000);
  fs::copy_file(dir_ / "out" / shard_name(0), dir_ / "out" / shard_name(2), fs::copy_options::overwrite_existing);

  const ShardRunSummary repaired = write_augmented_shards(manifest_, options("out"));
  EXPECT_TRUE(repaired.complete);
  EXPECT_EQ(repaired.shards_skipped, 1);
  EXPECT_EQ(repaired.shards_written, 2);
  EXPECT_EQ(shard_bytes("out"), whole);
}

TEST_F(ShardRun, ThreadCountDoesNotChangeTheBytes) {
  ShardRunOptions one = options("one");
  one.threads = 1;
  one.cache_images = 0;
  ShardRunOptions many = options("many");
  many.threads = 4;
  write_augmented_shards(manifest_, one);
  write_augmented_shards(manifest_, many);
  EXPECT_EQ(shard_bytes("one"), shard_bytes("many"));
}

TEST_F(ShardRun, ResumeWithDifferentParametersFailsClearly) {
  ShardRunOptions first = options("out");
  first.stop_after_shards = 1;
  write_augmented_shards(manifest_, first);

  ShardRunOptions other_seed = options("out");
  other_seed.seed = 12;
  const std::string seed_error = error_of(other_seed);
  EXPECT_NE(seed_error.find(kRunFileName), std::string::npos) << seed_error;
  EXPECT_NE(seed_error.find("different seed"), std::string::npos) << seed_error;

  ShardRunOptions other_params = options("out");
  other_params.params.rotation_deg = {0, 90};
  other_params.params.gamma = {0.5, 2.0};
  const std::string params_error = error_of(other_params);
  EXPECT_NE(params_error.find("different params (gamma: was [0.8,1.25], now [0.5,2.0]; "
                              "rotation_deg: was [0.0,360.0], now [0.0,90.0])"),
            std::string::npos)
      << params_error;

  ShardRunOptions other_count = options("out");
  other_count.samples = 8;
  EXPECT_NE(error_of(other_count).find("different samples"), std::string::npos);

  Manifest changed = manifest_;
  changed.entries[0].content_hash = std::string(64, 'f');
  try {
    write_augmented_shards(changed, options("out"));
    ADD_FAILURE() << "a changed manifest must not resume";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("manifest_hash"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir_ / "out" / shard_name(1))) << "nothing written after a mismatch";
}

TEST_F(ShardRun, RefusesAFolderWithForeignShardsAndBadOptions) {
  fs::create_directories(dir_ / "foreign");
  std::ofstream(dir_ / "foreign" / "shard-000000.tar") << "x";
  EXPECT_NE(error_of(options("foreign")).find("no augment-run.json"), std::string::npos);

  ShardRunOptions o = options("bad");
  o.samples = 0;
  EXPECT_EQ(refused_option(o), "samples");
  EXPECT_EQ(error_of(o), "samples must be positive, got 0");
  o = options("bad");
  o.jpeg_quality = 0;
  EXPECT_EQ(refused_option(o), "jpeg_quality");
  EXPECT_EQ(error_of(o), "jpeg_quality must be in [1, 100], got 0");
  o = options("bad");
  o.shard_size = 0;
  EXPECT_EQ(refused_option(o), "shard_size");
  EXPECT_EQ(error_of(o), "shard_size must be positive, got 0");
  o = options("bad");
  o.split = "nonexistent";
  EXPECT_NE(error_of(o).find("nonexistent"), std::string::npos);
}

TEST_F(ShardRun, AnUnreadableSourceIsAnErrorNamingIt) {
  Manifest broken = manifest_;
  broken.entries[2].path = (dir_ / "data" / "missing.png").string();
  ShardRunOptions o = options("broken");
  o.samples = 10;
  try {
    write_augmented_shards(broken, o);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.png"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir_ / "broken" / kIndexFileName));
}

}  // namespace
}  // namespace derm
