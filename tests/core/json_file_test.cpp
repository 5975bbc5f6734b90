#include "derm/core/json_file.hpp"

#include <fstream>

#include <gtest/gtest.h>

#include "derm/core/atomic_file.hpp"
#include "derm/core/error.hpp"
#include "test_support.hpp"

namespace derm {
namespace {

TEST(JsonFile, WritesPrettyJsonWithAFinalNewlineAndReadsItBack) {
  testing::TempDir dir;
  const nlohmann::json value{{"b", {1, 2}}, {"a", "x"}};
  write_json_file(dir / "v.json", value);
  EXPECT_EQ(read_file(dir / "v.json"), value.dump(2) + "\n");
  EXPECT_EQ(read_json_file(dir / "v.json"), value);
}

TEST(JsonFile, AnUnreadableFileIsAnErrorNamingIt) {
  testing::TempDir dir;
  std::ofstream(dir / "bad.json") << "{\"a\": ";
  try {
    read_json_file(dir / "bad.json");
    FAIL() << "no error for a truncated file";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind((dir / "bad.json").string() + ": not valid JSON (", 0), 0u) << e.what();
  }
  EXPECT_THROW(read_json_file(dir / "missing.json"), Error);
}

TEST(JsonFile, AFailedWriteLeavesTheOldFile) {
  testing::TempDir dir;
  write_json_file(dir / "v.json", {{"version", 1}});
  // A value JSON cannot encode (invalid UTF-8) fails while writing.
  EXPECT_ANY_THROW(write_json_file(dir / "v.json", {{"name", std::string("\xff")}}));
  EXPECT_EQ(read_json_file(dir / "v.json"), (nlohmann::json{{"version", 1}}));
}

}  // namespace
}  // namespace derm
