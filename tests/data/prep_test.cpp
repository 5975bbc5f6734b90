// Synthetic tests of derm-prep's library: hashes, readers, bad inputs, splits.
#include "derm/data/prep.hpp"

#include <fstream>
#include <map>
#include <set>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "derm/core/atomic_file.hpp"
#include "derm/core/error.hpp"
#include "derm/data/grouped_split.hpp"
#include "derm/data/perceptual_hash.hpp"
#include "derm/data/sha256.hpp"
#include "test_support.hpp"

namespace derm {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  Sha256 pieces;  // fed in odd-sized pieces across block boundaries
  const std::string text(200, 'x');
  for (std::size_t i = 0; i < text.size(); i += 7) pieces.update(text.data() + i, std::min<std::size_t>(7, text.size() - i));
  EXPECT_EQ(pieces.hex_digest(), sha256_hex(text));
}

TEST(PerceptualHash, FindsReencodedResizedCopyButNotOtherLesion) {
  const cv::Mat original = testing::synthetic_lesion(400, 300, 7);
  cv::Mat resized;
  cv::resize(original, resized, cv::Size(200, 150), 0, 0, cv::INTER_AREA);
  std::vector<unsigned char> jpeg;
  cv::Mat bgr;
  cv::cvtColor(resized, bgr, cv::COLOR_RGB2BGR);
  cv::imencode(".jpg", bgr, jpeg, {cv::IMWRITE_JPEG_QUALITY, 70});
  cv::Mat reencoded;
  cv::cvtColor(cv::imdecode(jpeg, cv::IMREAD_COLOR), reencoded, cv::COLOR_BGR2RGB);
  const auto a = perceptual_hash(original);
  EXPECT_LE(hamming_distance(a, perceptual_hash(reencoded)), 4);
  EXPECT_GT(hamming_distance(a, perceptual_hash(testing::synthetic_lesion(400, 300, 8))), 10);
  EXPECT_EQ(hamming_distance(0, ~std::uint64_t{0}), 64);
}

TEST(Diagnosis, ParsesIsicSpellingsAndTasksPutTheRestClassLast) {
  EXPECT_EQ(parse_diagnosis("Seborrheic Keratosis"), Diagnosis::bkl);
  EXPECT_EQ(parse_diagnosis("AKIEC"), Diagnosis::akiec);
  EXPECT_EQ(parse_diagnosis("basal_cell_carcinoma"), Diagnosis::bcc);
  EXPECT_FALSE(parse_diagnosis("flurb").has_value());
  EXPECT_EQ(task_by_name("isic2017").classes.back(), "nevus");
  EXPECT_EQ(task_by_name("melanoma").classes.back(), "benign");
  EXPECT_EQ(task_by_name("ham7").classes.back(), "nv");
  EXPECT_EQ(task_by_name("isic2017").class_of(Diagnosis::bcc), -1);
  EXPECT_EQ(task_by_name("melanoma").class_of(Diagnosis::bcc), 1);
  EXPECT_THROW(task_by_name("nope"), Error);
}

TEST(GroupedSplit, NeverSplitsAGroupAndIsDeterministicPerSeed) {
  std::vector<SplitItem> items;
  for (int i = 0; i < 600; ++i) items.push_back({i % 3, "lesion" + std::to_string(i / 3 % 150), ""});
  const auto fractions = parse_split_fractions("0.8,0.1,0.1");
  const auto a = grouped_split(items, fractions, 1);
  EXPECT_EQ(a, grouped_split(items, fractions, 1));
  EXPECT_NE(a, grouped_split(items, fractions, 2));
  std::map<std::string, std::set<std::string>> splits_of_group;
  std::map<std::string, int> sizes;
  for (std::size_t i = 0; i < items.size(); ++i) {
    splits_of_group[items[i].group].insert(a[i]);
    sizes[a[i]]++;
  }
  for (const auto& [group, splits] : splits_of_group) EXPECT_EQ(splits.size(), 1u) << group;
  EXPECT_NEAR(sizes["train"], 480, 12);
  EXPECT_NEAR(sizes["val"], 60, 12);
  EXPECT_NEAR(sizes["test"], 60, 12);
}

TEST(GroupedSplit, FixedSplitPullsItsGroup) {
  std::vector<SplitItem> items = {{0, "g", ""}, {0, "g", "test"}, {0, "g", ""}, {1, "", ""}};
  const auto splits = grouped_split(items, parse_split_fractions("train=0.5,test=0.5"), 3);
  EXPECT_EQ(splits[0], "test");
  EXPECT_EQ(splits[2], "test");
  EXPECT_THROW(parse_split_fractions("0.8"), Error);
  EXPECT_THROW(parse_split_fractions("a,b"), Error);
  EXPECT_THROW(parse_split_fractions("0.1,0.1"), OptionError) << "fractions that do not sum to 1";
  EXPECT_THROW(parse_split_fractions("0,1"), OptionError) << "an empty split";
  EXPECT_THROW(parse_split_fractions("0.9,nan"), OptionError);
}

// A small ISIC 2017-style corpus with every kind of bad input.
struct BadCorpus {
  TempDir dir;
  fs::path csv = dir / "gt.csv";
  fs::path images = dir / "images";
  BadCorpus() {
    fs::create_directories(images);
    testing::write_rgb(images / "ISIC_good1.png", testing::synthetic_lesion(64, 64, 1));
    testing::write_rgb(images / "ISIC_good2.png", testing::synthetic_lesion(64, 64, 2));
    testing::write_rgb(images / "ISIC_good3.jpg", testing::synthetic_lesion(64, 64, 3));
    testing::write_rgb(images / "ISIC_nolabel.png", testing::synthetic_lesion(64, 64, 4));
    std::ofstream(images / "ISIC_empty.jpg").close();
    write_text(images / "ISIC_text.jpg", "this is not a JPEG\n");
    const std::string jpeg = [&] {
      std::ifstream in(images / "ISIC_good3.jpg", std::ios::binary);
      return std::string(std::istreambuf_iterator<char>(in), {});
    }();
    write_text(images / "ISIC_truncated.jpg", jpeg.substr(0, jpeg.size() / 2));
    fs::copy_file(images / "ISIC_good1.png", images / "ISIC_copy1.png");
    write_text(csv,
               "image_id,melanoma,seborrheic_keratosis\n"
               "ISIC_good1,1.0,0.0\nISIC_good2,0.0,1.0\nISIC_good3,0.0,0.0\n"
               "ISIC_empty,0.0,0.0\nISIC_text,0.0,0.0\nISIC_truncated,1.0,0.0\n"
               "ISIC_noimage,0.0,0.0\nISIC_copy1,1.0,0.0\n");
  }
  PrepOptions options(const std::string& split = "train") const {
    PrepOptions o;
    o.sources = {{"isic2017", csv, images, split}};
    o.out = dir / "out" / "manifest.csv";
    o.quiet = true;
    fs::create_directories(dir / "out");
    return o;
  }
};

std::map<std::string, std::string> reasons_by_id(const nlohmann::json& summary) {
  std::map<std::string, std::string> reasons;
  for (const auto& e : summary["excluded"]) reasons[e["id"]] = e["reason"];
  return reasons;
}

TEST(RunPrep, BadInputsAreExcludedWithClearReasons) {
  BadCorpus corpus;
  const auto result = run_prep(corpus.options());
  const auto reasons = reasons_by_id(result.summary);
  EXPECT_EQ(result.manifest.entries.size(), 4u);  // good1..3, copy1
  EXPECT_TRUE(contains(reasons.at("ISIC_empty"), "ISIC_empty.jpg: empty file"));
  EXPECT_TRUE(contains(reasons.at("ISIC_text"), "ISIC_text.jpg:"));
  EXPECT_TRUE(contains(reasons.at("ISIC_truncated"), "truncated"));
  EXPECT_TRUE(contains(reasons.at("ISIC_noimage"), "no image file for id 'ISIC_noimage'"));
  EXPECT_EQ(reasons.at("ISIC_nolabel"), "image file with no label row");
  EXPECT_EQ(reasons.size(), 5u);
  EXPECT_EQ(result.summary["identical_pairs"], 1);
  EXPECT_EQ(result.summary["leaks"], 0);

  const Manifest read = read_manifest(corpus.options().out);
  ASSERT_EQ(read.entries.size(), 4u);
  EXPECT_EQ(read.classes, (std::vector<std::string>{"melanoma", "seborrheic_keratosis", "nevus"}));
  EXPECT_EQ(read.entries[0].id, "ISIC_good1");
  EXPECT_EQ(read.entries[0].label, "melanoma");
  EXPECT_EQ(read.entries[1].label, "seborrheic_keratosis");
  EXPECT_EQ(read.entries[2].label, "nevus");
  EXPECT_TRUE(fs::equivalent(read.entries[0].path, corpus.images / "ISIC_good1.png"));
  EXPECT_EQ(read.entries[0].content_hash, sha256_hex(read_file(corpus.images / "ISIC_good1.png")));
  EXPECT_EQ(read.entries[0].width, 64);
}

TEST(RunPrep, LabelFileErrorsAreOneLineAndNameTheFile) {
  BadCorpus corpus;
  const auto error_of = [&](const std::string& text) -> std::string {
    write_text(corpus.csv, text);
    try {
      run_prep(corpus.options());
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  auto e = error_of("image,MEL,NV\nISIC_good1,1.0,0.0\n");
  EXPECT_TRUE(contains(e, "gt.csv: not an ISIC 2016/2017 Part 3 ground truth: expected the header "
                          "'image_id,melanoma,seborrheic_keratosis'")) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos);
  e = error_of("image_id,melanoma,seborrheic_keratosis\nISIC_good1,1.0,0.0\nISIC_good1,0.0,0.0\n");
  EXPECT_TRUE(contains(e, "gt.csv:3: duplicate id 'ISIC_good1' (first at")) << e;
  e = error_of("image_id,melanoma,seborrheic_keratosis\nISIC_good1,maybe,0.0\n");
  EXPECT_TRUE(contains(e, "gt.csv:2: column melanoma must be 1.0 or 0.0, found 'maybe'")) << e;
}

TEST(RunPrep, HamUnknownDxAndIdsFromTwoSources) {
  BadCorpus corpus;
  write_text(corpus.dir / "ham.csv", "lesion_id,image_id,dx\nHAM_1,ISIC_good1,mel\nHAM_2,ISIC_good2,xyz\n");
  PrepOptions o = corpus.options();
  o.sources.push_back({"ham10000", corpus.dir / "ham.csv", corpus.images, "train"});
  try {
    run_prep(o);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "ham.csv:3: unknown HAM10000 dx 'xyz'")) << e.what();
  }
  write_text(corpus.dir / "ham.csv", "lesion_id,image_id,dx\nHAM_1,ISIC_good1,mel\nHAM_2,ISIC_good2,df\n");
  const auto reasons = reasons_by_id(run_prep(o).summary);
  ASSERT_EQ(reasons.count("ISIC_good1"), 1u);
  EXPECT_TRUE(contains(reasons.at("ISIC_good1"), "duplicate id 'ISIC_good1': also labelled at"));
}

TEST(RunPrep, DropLeaksRemovesTheNonTestCopy) {
  BadCorpus corpus;
  write_text(corpus.dir / "test.csv", "image_id,melanoma,seborrheic_keratosis\nISIC_copy1,1.0,0.0\n");
  write_text(corpus.csv, "image_id,melanoma,seborrheic_keratosis\nISIC_good1,1.0,0.0\n"
                         "ISIC_good2,0.0,1.0\nISIC_good3,0.0,0.0\n");
  PrepOptions o = corpus.options();
  o.sources.push_back({"isic2017", corpus.dir / "test.csv", corpus.images, "test"});
  auto report = run_prep(o);
  EXPECT_EQ(report.summary["leaks"], 1);
  EXPECT_EQ(report.manifest.entries.size(), 4u);
  o.drop_leaks = true;
  report = run_prep(o);
  EXPECT_EQ(report.manifest.entries.size(), 3u);
  EXPECT_EQ(reasons_by_id(report.summary).count("ISIC_good1"), 1u);
  for (const auto& e : report.manifest.entries) EXPECT_NE(e.id, "ISIC_good1");
}

TEST(RunPrep, CacheWritesResizedCopiesAndKeepsSourceHash) {
  BadCorpus corpus;
  PrepOptions o = corpus.options();
  o.cache_dir = corpus.dir / "out" / "cache";
  o.cache_size = 32;
  const auto result = run_prep(o);
  const Manifest read = read_manifest(o.out);
  ASSERT_FALSE(read.entries.empty());
  const cv::Mat cached = cv::imread(read.entries[0].path);
  EXPECT_EQ(cached.cols, 32);
  EXPECT_EQ(fs::path(read.entries[0].path).parent_path().filename(), "cache");
  EXPECT_EQ(read.entries[0].content_hash, sha256_hex(read_file(corpus.images / "ISIC_good1.png")));
}

TEST(RunPrep, IdsThatDifferOnlyInUnsafeCharactersGetTheirOwnCacheFiles) {
  const TempDir dir;
  fs::create_directories(dir / "images");
  const std::vector<std::string> ids = {"ISIC_a:b", "ISIC_a_b", "ISIC_a%3Ab", "ISIC_mel", "ISIC_sk"};
  std::string csv = "image_id,melanoma,seborrheic_keratosis\n";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    testing::write_rgb(dir / "images" / (ids[i] + ".png"), testing::synthetic_lesion(64, 64, i + 1));
    csv += ids[i] + (ids[i] == "ISIC_mel" ? ",1.0,0.0\n" : ids[i] == "ISIC_sk" ? ",0.0,1.0\n" : ",0.0,0.0\n");
  }
  write_text(dir / "gt.csv", csv);
  PrepOptions o;
  o.sources = {{"isic2017", dir / "gt.csv", dir / "images", "train"}};
  o.out = dir / "manifest.csv";
  o.cache_dir = dir / "cache";
  o.cache_size = 64;  // the images' own size: each cache file holds its source's pixels
  o.absolute_paths = true;
  o.quiet = true;
  const Manifest manifest = run_prep(o).manifest;
  ASSERT_EQ(manifest.entries.size(), ids.size());
  std::set<std::string> cache_files;
  for (const auto& e : manifest.entries) {
    cache_files.insert(e.path);
    const cv::Mat source = testing::read_with_opencv_rgb(dir / "images" / (e.id + ".png"));
    EXPECT_TRUE(testing::identical_images(testing::read_with_opencv_rgb(e.path), source)) << e.id << " -> " << e.path;
  }
  EXPECT_EQ(cache_files.size(), ids.size());
}

TEST(RunPrep, NoSplitWithoutSplitOptionIsAnError) {
  BadCorpus corpus;
  EXPECT_THROW(run_prep(corpus.options("")), Error);
}

// A cache file that cannot be written (here a folder is in its way) is the
// run's failure, not a bad image: an error naming it, and no manifest.
TEST(RunPrep, ACacheFileThatCannotBeWrittenIsAnError) {
  BadCorpus corpus;
  PrepOptions o = corpus.options();
  o.cache_dir = corpus.dir / "out" / "cache";
  fs::create_directories(o.cache_dir / "ISIC_good2.png");
  try {
    run_prep(o);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), (o.cache_dir / "ISIC_good2.png").string() + ": ")) << e.what();
  }
  EXPECT_FALSE(fs::exists(o.out));
}

TEST(RunPrep, RefusesToOverwriteItsInputs) {
  BadCorpus corpus;
  const std::string labels = read_file(corpus.csv);
  // The option refused (an OptionError) and the message.
  const auto error_of = [&](const PrepOptions& o) -> std::string {
    try {
      run_prep(o);
    } catch (const OptionError& e) {
      return "[" + e.option() + "] " + e.what();
    }
    return "";
  };
  PrepOptions o = corpus.options();
  o.out = corpus.dir / "out" / ".." / "gt.csv";
  EXPECT_TRUE(contains(error_of(o), "[out] out " + o.out.string() + ": would overwrite the input file " +
                                        corpus.csv.string()))
      << error_of(o);
  o.out = corpus.images / "ISIC_good3.jpg";
  EXPECT_TRUE(contains(error_of(o), "[out] out " + o.out.string())) << error_of(o);
  o = corpus.options();
  o.summary = corpus.csv;
  EXPECT_TRUE(contains(error_of(o), "[summary] summary " + corpus.csv.string())) << error_of(o);
  o = corpus.options();
  o.summary = o.out;
  EXPECT_TRUE(contains(error_of(o), "[summary] summary " + o.out.string() + ": would overwrite the manifest (out)"))
      << error_of(o);
  o = corpus.options();
  o.cache_dir = corpus.images;
  EXPECT_TRUE(contains(error_of(o), "[cache_dir] cache_dir " + (corpus.images / "ISIC_good1.png").string()))
      << error_of(o);
  EXPECT_EQ(read_file(corpus.csv), labels);
  EXPECT_FALSE(fs::exists(corpus.options().out));
}

}  // namespace
}  // namespace derm
