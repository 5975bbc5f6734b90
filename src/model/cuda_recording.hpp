#pragma once
// What the CUDA graph recordings (GraphedForward, GraphedTrainingStep) and the
// code that must know about them (AntialiasedResize) share.
// DERM_WITH_CUDA is 1 in builds against a CUDA LibTorch (cuda_config.hpp);
// everything else here exists only then. Header-only on purpose: inline
// helpers and a template over the recording's owner.
#include "cuda_config.hpp"

#if DERM_WITH_CUDA
#include <memory>

#include <ATen/autocast_mode.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGraphsC10Utils.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/version.h>

namespace derm {

// Autocast's cache keeps weights cast outside a recording; a recording must
// cast them itself on every replay.
class AutocastCacheOff {
 public:
  AutocastCacheOff() : was_enabled_(at::autocast::is_autocast_cache_enabled()) {
    at::autocast::set_autocast_cache_enabled(false);
  }
  ~AutocastCacheOff() { at::autocast::set_autocast_cache_enabled(was_enabled_); }
  AutocastCacheOff(const AutocastCacheOff&) = delete;
  AutocastCacheOff& operator=(const AutocastCacheOff&) = delete;

 private:
  bool was_enabled_;
};

// Starts recording the current stream's work into `pool` (a new pool by
// default). From LibTorch 2.1 only this thread's CUDA calls are checked, so
// other threads (batch loading) may go on copying to the GPU meanwhile.
inline void begin_recording(at::cuda::CUDAGraph& graph, at::cuda::MempoolId_t pool = {0, 0}) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
  graph.capture_begin(pool, cudaStreamCaptureModeThreadLocal);
#else
  graph.capture_begin(pool);
#endif
}

// Ends a recording that failed part-way, so that the stream and the allocator
// leave recording mode; whatever that reports is moot next to the first error.
inline void abandon_recording(at::cuda::CUDAGraph& graph) noexcept {
  if (c10::cuda::currentStreamCaptureStatusMayInitCtx() == c10::cuda::CaptureStatus::None) return;
  try {
    graph.capture_end();
  } catch (...) {
  }
}

// Records into `graph` (in `pool`, see begin_recording) the work that `body`
// queues on the current stream. Should it fail, the recording is abandoned and
// `owner`, which holds the graph, is let go without being destroyed: the
// allocator may still route the recording's frees through it. Then rethrows.
template <typename Owner, typename Body>
void record_graph(at::cuda::CUDAGraph& graph, std::unique_ptr<Owner>& owner, Body&& body,
                  at::cuda::MempoolId_t pool = {0, 0}) {
  begin_recording(graph, pool);
  try {
    body();
    graph.capture_end();
  } catch (...) {
    abandon_recording(graph);
    (void)owner.release();
    throw;
  }
}

}  // namespace derm

#endif
