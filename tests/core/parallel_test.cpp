#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#if defined(__linux__)
#include <sched.h>
#endif

#include "derm/core/parallel.hpp"
#include "resource_failures.hpp"

namespace derm {
namespace {

// How often parallel_for called the body for each index, and on how many threads.
struct Visits {
  explicit Visits(std::size_t count) : per_index(count) {}
  std::vector<std::atomic<int>> per_index;
  std::mutex mutex;
  std::set<std::thread::id> threads;
  void record(std::size_t i) {
    ++per_index[i];
    std::lock_guard<std::mutex> lock(mutex);
    threads.insert(std::this_thread::get_id());
  }
  bool each_once() const {
    for (const auto& n : per_index) {
      if (n != 1) return false;
    }
    return true;
  }
};

TEST(ParallelFor, CallsTheBodyOnceForEveryIndex) {
  Visits visits(1000);
  parallel_for(1000, 4, [&](std::size_t i) { visits.record(i); });
  EXPECT_TRUE(visits.each_once());
  EXPECT_LE(visits.threads.size(), 4u);
}

TEST(ParallelFor, RethrowsTheFirstFailureAndStopsHandingOutIndices) {
  std::atomic<int> calls{0};
  const auto failing_at_10 = [&](std::size_t i) {
    ++calls;
    if (i == 10) throw std::runtime_error("index 10");
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  };
  EXPECT_THROW(parallel_for(1000, 1, failing_at_10), std::runtime_error);
  EXPECT_EQ(calls.load(), 11);
  calls = 0;
  EXPECT_THROW(parallel_for(1000, 3, failing_at_10), std::runtime_error);
  EXPECT_LT(calls.load(), 1000);
}

TEST(ParallelFor, GoesOnWithFewerThreadsWhenTheSystemRefusesOne) {
  Visits one_extra(500);
  {
    const testing::ThreadStartsFailAfter refusing(1);
    parallel_for(500, 4, [&](std::size_t i) { one_extra.record(i); });
  }
  EXPECT_TRUE(one_extra.each_once());
  EXPECT_LE(one_extra.threads.size(), 2u);

  Visits none(500);
  {
    const testing::ThreadStartsFailAfter refusing(0);
    parallel_for(500, 4, [&](std::size_t i) { none.record(i); });
  }
  EXPECT_TRUE(none.each_once());
  EXPECT_EQ(none.threads, std::set<std::thread::id>{std::this_thread::get_id()});
}

// Between one and the CPUs the process may run on; hyperthreads (two or more
// CPUs per core) count once, so never fewer than half the CPUs on x86-64's
// two-way SMT, and exactly the CPUs when every core has one thread.
TEST(AvailableCores, CountsEachCoreOnceAmongTheCpusOfTheProcess) {
  const int cores = available_cores();
  EXPECT_GE(cores, 1);
#if defined(__linux__)
  cpu_set_t set;
  ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
  const int cpus = CPU_COUNT(&set);
  EXPECT_LE(cores, cpus);
  std::ifstream siblings("/sys/devices/system/cpu/cpu0/topology/thread_siblings_list");
  std::string list;
  if (siblings >> list && list.find_first_of(",-") == std::string::npos) {
    EXPECT_EQ(cores, cpus) << "one thread per core (cpu0's siblings: " << list << ")";
  } else {
    EXPECT_GE(2 * cores, cpus);
  }
#endif
}

}  // namespace
}  // namespace derm
