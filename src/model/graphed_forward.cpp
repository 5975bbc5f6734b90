#include "derm/model/graphed_forward.hpp"

#include <map>
#include <optional>
#include <string>
#include <utility>

#include "cuda_recording.hpp"
#include "derm/core/error.hpp"

namespace derm {

bool cuda_graphs_built() { return DERM_WITH_CUDA != 0; }

#if DERM_WITH_CUDA

class GraphedForward::Memory {
 public:
  at::cuda::MempoolId_t pool() {
    if (!pool_) pool_ = at::cuda::graph_pool_handle();
    return *pool_;
  }
  // Every recording in the pool is made on this stream: the allocator reuses
  // a freed block only on the stream it was allocated on. (Such recordings are
  // destroyed together: a graph's reset clears its stream's cuBLAS workspaces.)
  c10::cuda::CUDAStream stream(c10::DeviceIndex device) {
    auto found = streams_.find(device);
    if (found == streams_.end()) found = streams_.emplace(device, at::cuda::getStreamFromPool(false, device)).first;
    return found->second;
  }

 private:
  std::optional<at::cuda::MempoolId_t> pool_;  // made on first use, when CUDA is up
  std::map<c10::DeviceIndex, c10::cuda::CUDAStream> streams_;
};

struct GraphedForward::Recording {
  at::cuda::CUDAGraph graph;
  torch::Tensor input;   // the recording reads its input here
  torch::Tensor output;  // and writes its output here
};

namespace {

// What a recording depends on besides the network.
std::vector<std::int64_t> recording_key(const torch::Tensor& input) {
  std::vector<std::int64_t> key(input.sizes().begin(), input.sizes().end());
  key.push_back(static_cast<std::int64_t>(input.scalar_type()));
  key.push_back(input.device().index());
  key.push_back(static_cast<std::int64_t>(input.suggest_memory_format()));
  return key;
}

// Calls before recording: cuDNN and cuBLAS create their handles and
// workspaces (and with cudnn.benchmark pick algorithms) on the first calls,
// which must not happen inside a recording.
constexpr int kWarmupCalls = 3;

}  // namespace

GraphedForward::Recording& GraphedForward::record(const torch::Tensor& input, const std::vector<std::int64_t>& key) {
  auto recording = std::make_unique<Recording>();
  recording->input = torch::empty_like(input, input.suggest_memory_format());
  recording->input.copy_(input);

  const c10::cuda::CUDAGuard device_guard(input.device());
  // Recording needs a stream other than the legacy default stream.
  const c10::cuda::CUDAStreamGuard stream_guard(memory_->stream(input.device().index()));
  c10::cuda::device_synchronize();
  {
    const AutocastCacheOff no_cache;
    for (int i = 0; i < kWarmupCalls; ++i) forward_(recording->input);
    c10::cuda::device_synchronize();
    Recording& r = *recording;
    record_graph(r.graph, recording, [&] { r.output = forward_(r.input); }, memory_->pool());
  }
  c10::cuda::device_synchronize();
  auto& stored = recordings_[key];
  stored = std::move(recording);
  return *stored;
}

GraphedForward::Recording& GraphedForward::record_or_explain(const torch::Tensor& input,
                                                            const std::vector<std::int64_t>& key) {
  try {
    return record(input, key);
  } catch (const c10::Error& e) {
    throw Error(std::string("recording the forward pass as a CUDA graph failed (") + e.what_without_backtrace() +
                "); run it without CUDA graphs (cuda_graphs off)");
  }
}

torch::Tensor GraphedForward::operator()(const torch::Tensor& input) {
  if (!use_graphs_ || !input.is_cuda()) return forward_(input);
  const auto key = recording_key(input);
  const auto found = recordings_.find(key);
  // Recording runs nothing: even a new recording is replayed for its first output.
  Recording& recording = found == recordings_.end() ? record_or_explain(input, key) : *found->second;
  recording.input.copy_(input);
  recording.graph.replay();
  return recording.output.clone();
}

#else

class GraphedForward::Memory {};
struct GraphedForward::Recording {};

torch::Tensor GraphedForward::operator()(const torch::Tensor& input) { return forward_(input); }

#endif

std::shared_ptr<GraphedForward::Memory> GraphedForward::new_memory() { return std::make_shared<Memory>(); }

GraphedForward::GraphedForward(Function forward, bool use_graphs, std::shared_ptr<Memory> memory)
    : forward_(std::move(forward)),
      use_graphs_(use_graphs && cuda_graphs_built()),
      memory_(memory ? std::move(memory) : new_memory()) {}

GraphedForward::~GraphedForward() = default;

std::size_t GraphedForward::recordings() const { return recordings_.size(); }

}  // namespace derm
