#include "resource_failures.hpp"

#include <dlfcn.h>
#include <pthread.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <limits>
#include <new>

namespace {

constexpr int kUnlimited = std::numeric_limits<int>::max();
std::atomic<int> thread_starts_left{kUnlimited};
std::atomic<std::size_t> failing_allocation_bytes{std::numeric_limits<std::size_t>::max()};

}  // namespace

extern "C" int pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*), void* arg) {
  using Create = int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
  static const auto next_create = reinterpret_cast<Create>(dlsym(RTLD_NEXT, "pthread_create"));
  if (thread_starts_left.load() != kUnlimited && thread_starts_left.fetch_sub(1) <= 0) return EAGAIN;
  return next_create(thread, attr, start, arg);
}

void* operator new(std::size_t bytes) {
  if (bytes >= failing_allocation_bytes.load()) throw std::bad_alloc();
  for (;;) {
    if (void* p = std::malloc(bytes == 0 ? 1 : bytes)) return p;
    const std::new_handler handler = std::get_new_handler();
    if (!handler) throw std::bad_alloc();
    handler();
  }
}

void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace derm::testing {

ThreadStartsFailAfter::ThreadStartsFailAfter(int allowed) { thread_starts_left = allowed; }
ThreadStartsFailAfter::~ThreadStartsFailAfter() { thread_starts_left = kUnlimited; }

LargeAllocationsFail::LargeAllocationsFail(std::size_t min_bytes) { failing_allocation_bytes = min_bytes; }
LargeAllocationsFail::~LargeAllocationsFail() {
  failing_allocation_bytes = std::numeric_limits<std::size_t>::max();
}

}  // namespace derm::testing
