#pragma once
// Resource failures on demand, for testing what derm does when the system has
// no thread or no memory left. Linking resource_failures.cpp into a test
// executable replaces pthread_create and the global operator new/delete of the
// whole process; they behave as usual until a test arms them, and the guards
// below disarm them again.
#include <cstddef>

namespace derm::testing {

// While alive, thread starts after the first `allowed` fail with EAGAIN
// (std::thread throws std::system_error).
class ThreadStartsFailAfter {
 public:
  explicit ThreadStartsFailAfter(int allowed);
  ~ThreadStartsFailAfter();
  ThreadStartsFailAfter(const ThreadStartsFailAfter&) = delete;
  ThreadStartsFailAfter& operator=(const ThreadStartsFailAfter&) = delete;
};

// While alive, operator new throws std::bad_alloc for any request of at least
// `min_bytes`.
class LargeAllocationsFail {
 public:
  explicit LargeAllocationsFail(std::size_t min_bytes);
  ~LargeAllocationsFail();
  LargeAllocationsFail(const LargeAllocationsFail&) = delete;
  LargeAllocationsFail& operator=(const LargeAllocationsFail&) = delete;
};

}  // namespace derm::testing
