#include "derm/atomic_file.hpp"

#include <gtest/gtest.h>

#include "derm/error.hpp"
#include "test_support.hpp"

namespace derm {
namespace {

namespace fs = std::filesystem;

std::size_t files_in(const fs::path& dir) {
  return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

TEST(WriteFileAtomically, WritesContentAndLeavesNoTemporary) {
  testing::TempDir dir;
  write_file_atomically(dir / "out.txt", [](std::ostream& out) { out << "hello"; });
  EXPECT_EQ(read_file(dir / "out.txt"), "hello");
  EXPECT_EQ(files_in(dir.path()), 1u);
}

TEST(WriteFileAtomically, FailureKeepsThePreviousFile) {
  testing::TempDir dir;
  write_file_atomically(dir / "out.txt", [](std::ostream& out) { out << "old"; });
  EXPECT_THROW(write_file_atomically(dir / "out.txt",
                                     [](std::ostream& out) {
                                       out << "partial";
                                       throw std::runtime_error("producer failed");
                                     }),
               Error);
  EXPECT_EQ(read_file(dir / "out.txt"), "old");
  EXPECT_EQ(files_in(dir.path()), 1u);
}

TEST(ReadFile, MissingFileIsNamed) {
  testing::TempDir dir;
  try {
    read_file(dir / "nope.bin");
    FAIL() << "expected derm::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nope.bin"), std::string::npos);
  }
}

}  // namespace
}  // namespace derm
