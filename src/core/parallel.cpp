#include "derm/core/parallel.hpp"

#if defined(__linux__)
#include <sched.h>

#include <fstream>
#include <set>
#include <string>
#include <utility>
#endif

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <system_error>

namespace derm {

void parallel_for(std::size_t count, int threads, const std::function<void(std::size_t)>& body) {
  std::atomic<std::size_t> next{0};
  std::exception_ptr failure;
  std::mutex failure_mutex;
  const auto work = [&] {
    for (std::size_t i = next++; i < count; i = next++) {
      try {
        body(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(failure_mutex);
        if (!failure) failure = std::current_exception();
        next = count;
      }
    }
  };
  const auto extra = static_cast<std::size_t>(std::max(1, threads)) - 1;
  std::vector<std::thread> pool = start_threads(std::min(extra, count), work);
  work();
  for (auto& thread : pool) thread.join();
  if (failure) std::rethrow_exception(failure);
}

std::vector<std::thread> start_threads(std::size_t count, const std::function<void()>& work) {
  std::vector<std::thread> threads;
  threads.reserve(count);
  try {
    while (threads.size() < count) threads.emplace_back(work);
  } catch (const std::system_error&) {
    // The system refused another thread: those started do the work.
  }
  return threads;
}

int available_cores() {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    std::set<std::pair<std::string, std::string>> cores;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (!CPU_ISSET(cpu, &set)) continue;
      const std::string topology = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
      std::ifstream package(topology + "physical_package_id"), core(topology + "core_id");
      std::string package_id, core_id;
      // Without the topology, count CPUs.
      if (!(package >> package_id) || !(core >> core_id)) return std::max(1, CPU_COUNT(&set));
      cores.emplace(package_id, core_id);
    }
    return std::max<int>(1, static_cast<int>(cores.size()));
  }
#endif
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

}  // namespace derm
