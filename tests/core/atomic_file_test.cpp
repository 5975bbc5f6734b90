#include "derm/core/atomic_file.hpp"

#include <gtest/gtest.h>

#include "derm/core/error.hpp"
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

TEST(RemoveStaleTemporaries, RemovesOnlyThoseOfTheGivenFile) {
  testing::TempDir dir;
  write_file_atomically(dir / "a.ckpt", [](std::ostream& out) { out << "done"; });
  for (const char* name : {".a.ckpt.tmp-1f2e", ".a.ckpt.tmp-99", ".b.ckpt.tmp-1f2e", ".a.ckpt2.tmp-5"}) {
    write_file_atomically(dir / name, [](std::ostream& out) { out << "cut short"; });
  }
  remove_stale_temporaries(dir / "a.ckpt");
  EXPECT_FALSE(fs::exists(dir / ".a.ckpt.tmp-1f2e"));
  EXPECT_FALSE(fs::exists(dir / ".a.ckpt.tmp-99"));
  EXPECT_TRUE(fs::exists(dir / ".b.ckpt.tmp-1f2e"));
  EXPECT_TRUE(fs::exists(dir / ".a.ckpt2.tmp-5"));
  EXPECT_EQ(read_file(dir / "a.ckpt"), "done");
  EXPECT_EQ(files_in(dir.path()), 3u);
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
