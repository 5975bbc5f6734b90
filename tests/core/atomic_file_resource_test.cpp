// read_file when the system runs out of memory.
#include <fstream>
#include <new>
#include <string>

#include <gtest/gtest.h>

#include "derm/core/atomic_file.hpp"
#include "resource_failures.hpp"
#include "test_support.hpp"

namespace derm {
namespace {

TEST(ReadFileOutOfMemory, ThrowsInsteadOfReturningTheFileCutShort) {
  const testing::TempDir dir;
  const std::string content(300000, 'x');
  std::ofstream(dir / "large.bin", std::ios::binary) << content;
  ASSERT_EQ(read_file(dir / "large.bin"), content);
  const testing::LargeAllocationsFail no_memory_for(content.size() / 2);
  EXPECT_THROW(read_file(dir / "large.bin"), std::bad_alloc);
}

}  // namespace
}  // namespace derm
