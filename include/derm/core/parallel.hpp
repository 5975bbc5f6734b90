#pragma once
// A parallel loop over indices on a few threads (the calling thread included).
#include <cstddef>
#include <functional>
#include <thread>
#include <vector>

namespace derm {

// Calls body(i) for every i in [0, count), on up to `threads` threads, each
// taking the next index as it finishes one. The first exception thrown by a
// body stops the handing out of indices and is rethrown once all threads end.
// When the system cannot start as many threads, fewer do the work (at least the
// calling thread).
void parallel_for(std::size_t count, int threads, const std::function<void(std::size_t)>& body);

// The physical cores this process may run on: on Linux the distinct (package,
// core) pairs of the CPUs in its affinity mask, hyperthreads counted once;
// elsewhere std::thread::hardware_concurrency(). At least 1. LibTorch's own
// default means the same, but on some virtual machines it finds fewer cores
// than there are (one of two on this project's 2-vCPU machine).
int available_cores();

// Starts up to `count` threads running `work`, stopping at the first one the
// system refuses (EAGAIN); the caller joins those returned.
std::vector<std::thread> start_threads(std::size_t count, const std::function<void()>& work);

}  // namespace derm
