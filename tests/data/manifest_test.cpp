#include "derm/data/manifest.hpp"

#include <fstream>

#include <gtest/gtest.h>

#include "derm/data/csv.hpp"
#include "derm/core/error.hpp"
#include "test_support.hpp"

namespace derm {
namespace {

using testing::TempDir;

const std::string kHeader =
    "id,path,label,label_index,lesion_id,patient_id,split,content_hash,width,height,source\n";

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::string read_error(const std::filesystem::path& path) {
  try {
    read_manifest(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(Csv, QuotedFieldsWithCommasQuotesAndNewlines) {
  const CsvTable table =
      parse_csv("a,b\r\n\"x, y\",\"say \"\"hi\"\"\"\n\"two\nlines\",z\n\n", "t.csv");
  ASSERT_EQ(table.rows.size(), 2u);
  EXPECT_EQ(table.rows[0].fields[0], "x, y");
  EXPECT_EQ(table.rows[0].fields[1], "say \"hi\"");
  EXPECT_EQ(table.rows[0].line, 2);
  EXPECT_EQ(table.rows[1].fields[0], "two\nlines");
  EXPECT_EQ(table.rows[1].line, 3);
  EXPECT_EQ(csv_quote("x, y"), "\"x, y\"");
  EXPECT_EQ(csv_quote("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_quote("plain"), "plain");
}

TEST(Csv, ErrorsNameFileAndLine) {
  try {
    parse_csv("a,b\n1,2\n3\n", "t.csv");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "t.csv:3: expected 2 fields")) << e.what();
  }
  EXPECT_THROW(parse_csv("a,b\n\"open,2\n", "t.csv"), Error);
  EXPECT_THROW(parse_csv("", "t.csv"), Error);
}

Manifest two_class_manifest() {
  Manifest m;
  m.classes = {"melanoma", "benign"};
  ManifestEntry a;
  a.id = "ISIC_1";
  a.path = "images/a, with comma.jpg";
  a.label = "melanoma";
  a.label_index = 0;
  a.lesion_id = "L\"1\"";
  a.split = "train";
  a.content_hash = std::string(64, 'a');
  a.width = 256;
  a.height = 192;
  a.source = "isic2017";
  ManifestEntry b = a;
  b.id = "ISIC_2";
  b.path = "/abs/b.jpg";
  b.label = "benign";
  b.label_index = 1;
  b.split = "test";
  m.entries = {a, b};
  return m;
}

TEST(Manifest, RoundTripResolvesRelativePathsAgainstItsFolder) {
  TempDir dir;
  const auto path = dir / "m.csv";
  write_manifest(path, two_class_manifest());
  const Manifest read = read_manifest(path);
  ASSERT_EQ(read.entries.size(), 2u);
  EXPECT_EQ(read.classes, (std::vector<std::string>{"melanoma", "benign"}));
  EXPECT_EQ(read.entries[0].path, (dir.path() / "images/a, with comma.jpg").string());
  EXPECT_EQ(read.entries[1].path, "/abs/b.jpg");
  EXPECT_EQ(read.entries[0].lesion_id, "L\"1\"");
  EXPECT_EQ(read.entries[0].width, 256);
  EXPECT_EQ(read.entries[0].height, 192);
  EXPECT_EQ(read.class_index("benign"), 1);
  EXPECT_EQ(read.split("test").size(), 1u);
  EXPECT_EQ(read.split("test")[0].id, "ISIC_2");
}

TEST(Manifest, UnknownSplitAndClassAreErrors) {
  TempDir dir;
  write_manifest(dir / "m.csv", two_class_manifest());
  const Manifest m = read_manifest(dir / "m.csv");
  try {
    m.split("val");
    FAIL();
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "'val'")) << e.what();
    EXPECT_TRUE(contains(e.what(), "test, train")) << e.what();
  }
  EXPECT_THROW(m.class_index("nevus"), Error);
}

TEST(Manifest, WrongHeaderNamesFileAndExpectedHeader) {
  TempDir dir;
  write_text(dir / "bad.csv", "image_id,melanoma,seborrheic_keratosis\nISIC_1,1.0,0.0\n");
  const auto error = read_error(dir / "bad.csv");
  EXPECT_TRUE(contains(error, "bad.csv: not a derm manifest")) << error;
  EXPECT_TRUE(contains(error, "expected the header 'id,path,label,label_index,")) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos);
}

TEST(Manifest, BadRowsNameTheLine) {
  TempDir dir;
  const std::string row1 = "a,a.jpg,mel,0,,,train,h,10,10,x\n";
  write_text(dir / "dup.csv", kHeader + row1 + "b,b.jpg,nev,1,,,train,h,10,10,x\n" + row1);
  EXPECT_TRUE(contains(read_error(dir / "dup.csv"), "dup.csv:4: duplicate id 'a'"))
      << read_error(dir / "dup.csv");

  write_text(dir / "idx.csv", kHeader + row1 + "b,b.jpg,nev,0,,,train,h,10,10,x\n");
  EXPECT_TRUE(contains(read_error(dir / "idx.csv"), "idx.csv:3: label_index 0 is 'nev'"))
      << read_error(dir / "idx.csv");

  write_text(dir / "lab.csv", kHeader + row1 + "b,b.jpg,mel,1,,,train,h,10,10,x\n");
  EXPECT_TRUE(contains(read_error(dir / "lab.csv"), "lab.csv:3: label 'mel' has label_index 1"))
      << read_error(dir / "lab.csv");

  write_text(dir / "num.csv", kHeader + "a,a.jpg,mel,zero,,,train,h,10,10,x\n");
  EXPECT_TRUE(contains(read_error(dir / "num.csv"), "num.csv:2: label_index 'zero'"));

  write_text(dir / "size.csv", kHeader + "a,a.jpg,mel,0,,,train,h,-1,10,x\n");
  EXPECT_TRUE(contains(read_error(dir / "size.csv"), "size.csv:2: width/height"));

  write_text(dir / "gap.csv", kHeader + row1 + "b,b.jpg,nev,2,,,train,h,10,10,x\n");
  EXPECT_TRUE(contains(read_error(dir / "gap.csv"), "no row has label_index 1"))
      << read_error(dir / "gap.csv");

  write_text(dir / "fields.csv", kHeader + "a,a.jpg,mel,0\n");
  EXPECT_TRUE(contains(read_error(dir / "fields.csv"), "fields.csv:2: expected 11 fields"));

  EXPECT_TRUE(contains(read_error(dir / "missing.csv"), "missing.csv"));
}

TEST(Manifest, WriteRejectsLabelsThatDoNotMatchClasses) {
  TempDir dir;
  Manifest m = two_class_manifest();
  m.entries[1].label_index = 0;
  EXPECT_THROW(write_manifest(dir / "m.csv", m), Error);
  EXPECT_FALSE(std::filesystem::exists(dir / "m.csv"));
}

}  // namespace
}  // namespace derm
