#include "derm/distributed/process_group.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <torch/version.h>

#include "distributed_config.hpp"

// c10d's headers declare each backend only under its USE_C10D_ macro (which
// LibTorch's CMake config may define already).
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if DERM_WITH_NCCL
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace derm {

namespace {

using namespace std::chrono_literals;

// LibTorch 2 split the collectives off ProcessGroup into per-device Backends,
// which ProcessGroupGloo and ProcessGroupNCCL became.
#if TORCH_VERSION_MAJOR >= 2
using Collectives = c10d::Backend;
#else
using Collectives = c10d::ProcessGroup;
#endif

constexpr auto kBeatEvery = 250ms;
// A rank whose heartbeat does not move for this long has stopped.
constexpr auto kSilence = 2s;

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

std::string beat_key(int rank) { return "derm/beat/" + std::to_string(rank); }
std::string arrival_key(const std::string& name, int rank) { return "derm/arrived/" + name + "/" + std::to_string(rank); }

std::string seconds(std::chrono::milliseconds t) { return std::to_string(t.count() / 1000.0).substr(0, 4) + " s"; }

bool loopback(const std::string& address) {
  return address == "localhost" || address.rfind("127.", 0) == 0 || address == "::1";
}

// Whether a TCP port can be listened on here (as the store's server will).
bool port_free(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return true;
  int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_ANY);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool free = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  close(fd);
  return free;
}

c10::intrusive_ptr<c10d::TCPStore> connect_store(const LaunchInfo& launch, bool server, std::chrono::milliseconds timeout) {
  c10d::TCPStoreOptions options;
  options.port = static_cast<std::uint16_t>(launch.master_port);
  options.isServer = server;
  options.timeout = timeout;
  options.waitWorkers = false;
  return c10::make_intrusive<c10d::TCPStore>(launch.master_addr, options);
}

// Gloo's transport: GLOO_SOCKET_IFNAME's interface as torch.distributed uses
// it, loopback for a job on one machine's loopback, else the host's address.
std::shared_ptr<::gloo::transport::Device> gloo_device(const LaunchInfo& launch) {
  if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME")) {
    return c10d::ProcessGroupGloo::createDeviceForInterface(interface);
  }
  if (loopback(launch.master_addr)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

// all_gather for autograd (ProcessGroup::all_gather_differentiable).
struct AllGather : torch::autograd::Function<AllGather> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& tensor,
                               ProcessGroup* group) {
    ctx->saved_data["group"] = reinterpret_cast<std::int64_t>(group);
    return group->all_gather(tensor, "all-gather of BatchNorm statistics");
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list gradients) {
    auto* group = reinterpret_cast<ProcessGroup*>(ctx->saved_data["group"].toInt());
    auto summed = gradients[0].contiguous().clone();
    group->all_reduce_sum(summed, "all-reduce of BatchNorm statistics' gradients");
    return {summed[group->rank()], torch::Tensor()};
  }
};

}  // namespace

struct ProcessGroup::State {
  LaunchInfo launch;
  std::chrono::milliseconds timeout{};
  std::string backend;
  torch::Device device = torch::kCPU;  // where the backend's tensors live
  c10::intrusive_ptr<c10d::TCPStore> store;
  c10::intrusive_ptr<Collectives> collectives;
  std::atomic<bool> failed{false};

  std::mutex mutex;
  std::condition_variable wake;
  bool stop = false;
  std::thread heartbeat;

  // Also when the constructor throws after the heartbeat began.
  ~State() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stop = true;
    }
    wake.notify_all();
    if (heartbeat.joinable()) heartbeat.join();
    if (failed) {
      // Work of a broken group may wait for its peers until the timeout:
      // the process is ending with an error, so the group is left unjoined.
      collectives.release();
      store.release();
    }
  }

  // Each rank's heartbeat count now, or -1 for one that never beat; empty when
  // the store (rank 0) cannot be reached.
  std::vector<std::int64_t> beats() const {
    std::vector<std::int64_t> counts;
    try {
      auto reader = connect_store(launch, false, 2s);
      for (int r = 0; r < launch.world_size; ++r) {
        counts.push_back(reader->check({beat_key(r)}) ? reader->add(beat_key(r), 0) : -1);
      }
    } catch (const std::exception&) {
      counts.clear();
    }
    return counts;
  }

  // "rank 1 of 2 stopped (died or hung)", "rank 1 of 2 never joined", or ""
  // when every rank is still beating.
  std::string stopped_ranks() const {
    const auto before = beats();
    if (before.empty()) return "rank 0 of " + std::to_string(launch.world_size) + " (the rendezvous host) stopped";
    std::this_thread::sleep_for(kSilence);
    const auto after = beats();
    if (after.empty()) return "rank 0 of " + std::to_string(launch.world_size) + " (the rendezvous host) stopped";
    std::string stopped, absent;
    const auto add = [](std::string& list, int r) { list += (list.empty() ? "rank " : ", rank ") + std::to_string(r); };
    for (int r = 0; r < launch.world_size; ++r) {
      const auto k = static_cast<std::size_t>(r);
      if (after[k] != before[k]) continue;
      add(after[k] < 0 ? absent : stopped, r);
    }
    const std::string of = " of " + std::to_string(launch.world_size);
    std::string who;
    if (!stopped.empty()) who = stopped + of + " stopped (died or hung)";
    if (!absent.empty()) who += (who.empty() ? "" : ", ") + absent + of + " never joined";
    return who;
  }
};

ProcessGroup::ProcessGroup(const LaunchInfo& launch, DistBackend backend, const torch::Device& device,
                           std::chrono::milliseconds timeout)
    : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.launch = launch;
  s.timeout = timeout;
  const std::string where = launch.master_addr + ":" + std::to_string(launch.master_port);
  if (backend == DistBackend::automatic) backend = device.is_cuda() ? DistBackend::nccl : DistBackend::gloo;
  s.backend = name_of(backend);
  s.device = backend == DistBackend::nccl ? device : torch::Device(torch::kCPU);
  if (backend == DistBackend::nccl && !device.is_cuda()) {
    throw OptionError("dist_backend", "nccl needs CUDA devices; the device here is " + device.str());
  }
#if !DERM_WITH_NCCL
  if (backend == DistBackend::nccl) {
    throw OptionError("dist_backend", "nccl: this derm is built against a LibTorch without CUDA; use gloo");
  }
#endif
  if (backend == DistBackend::gloo && device.is_cuda()) {
    throw OptionError("dist_backend", "gloo reduces CPU tensors; with CUDA devices use nccl (or auto)");
  }
  if (launch.rank == 0 && !port_free(launch.master_port)) {
    throw Error("MASTER_PORT " + std::to_string(launch.master_port) +
                " is in use on this machine, where rank 0 hosts the rendezvous; choose another port");
  }
  try {
    c10d::TCPStoreOptions options;
    options.port = static_cast<std::uint16_t>(launch.master_port);
    options.isServer = launch.rank == 0;
    options.numWorkers = static_cast<std::size_t>(launch.world_size);
    options.waitWorkers = true;
    options.timeout = timeout;
    s.store = c10::make_intrusive<c10d::TCPStore>(launch.master_addr, options);
  } catch (const std::exception& e) {
    throw Error("rank " + std::to_string(launch.rank) + ": the rendezvous at " + where + " did not gather all " +
                std::to_string(launch.world_size) + " ranks within " + seconds(timeout) + " (" + first_line(e.what()) +
                "); is every rank started, with the same MASTER_ADDR and MASTER_PORT?");
  }
  s.store->add(beat_key(launch.rank), 1);
  s.heartbeat = std::thread([&s] {
    c10::intrusive_ptr<c10d::TCPStore> beater;
    try {
      beater = connect_store(s.launch, false, s.timeout);
    } catch (const std::exception&) {
      return;  // the store is gone: the collectives will say so
    }
    std::unique_lock<std::mutex> lock(s.mutex);
    while (!s.wake.wait_for(lock, kBeatEvery, [&s] { return s.stop; })) {
      try {
        beater->add(beat_key(s.launch.rank), 1);
      } catch (const std::exception&) {
        return;
      }
    }
  });
  try {
    if (backend == DistBackend::gloo) {
      auto options = c10d::ProcessGroupGloo::Options::create(timeout);
      options->devices.push_back(gloo_device(launch));
      s.collectives = c10::make_intrusive<c10d::ProcessGroupGloo>(s.store, launch.rank, launch.world_size, options);
    } else {
#if DERM_WITH_NCCL
      auto options = c10d::ProcessGroupNCCL::Options::create();
      options->timeout = timeout;
      s.collectives = c10::make_intrusive<c10d::ProcessGroupNCCL>(s.store, launch.rank, launch.world_size, options);
#endif
    }
  } catch (const std::exception& e) {
    fail("connection of the " + s.backend + " process group", e.what());
  }
}

ProcessGroup::~ProcessGroup() = default;

int ProcessGroup::rank() const { return state_->launch.rank; }
int ProcessGroup::size() const { return state_->launch.world_size; }
const std::string& ProcessGroup::backend() const { return state_->backend; }

void ProcessGroup::fail(const std::string& what, const std::string& reason) {
  State& s = *state_;
  const bool first = !s.failed.exchange(true);
  std::string who = first ? s.stopped_ranks() : "";
  throw DistributedError("rank " + std::to_string(s.launch.rank) + ": the " + what + " failed: " +
                         (who.empty() ? "" : who + "; ") + first_line(reason) + " (--dist-timeout " +
                         seconds(s.timeout) + ")");
}

struct ProcessGroup::Pending::Work {
  ProcessGroup* group;
  c10::intrusive_ptr<c10d::Work> work;
  std::string what;
};

ProcessGroup::Pending::Pending() = default;
ProcessGroup::Pending::~Pending() = default;
ProcessGroup::Pending::Pending(Pending&&) noexcept = default;
ProcessGroup::Pending& ProcessGroup::Pending::operator=(Pending&&) noexcept = default;

void ProcessGroup::Pending::wait() {
  if (!work_) return;
  const auto work = std::move(work_);
  try {
    work->work->wait(work->group->state_->timeout);
  } catch (const std::exception& e) {
    work->group->fail(work->what, e.what());
  }
}

ProcessGroup::Pending ProcessGroup::all_reduce_sum_async(torch::Tensor tensor, const std::string& what) {
  Pending pending;
  std::vector<torch::Tensor> tensors{std::move(tensor)};
  try {
    pending.work_.reset(new Pending::Work{this, state_->collectives->allreduce(tensors), what});
  } catch (const std::exception& e) {
    fail(what, e.what());
  }
  return pending;
}

void ProcessGroup::all_reduce_sum(torch::Tensor tensor, const std::string& what) {
  if (tensor.device() == state_->device && tensor.is_contiguous()) {
    all_reduce_sum_async(tensor, what).wait();
    return;
  }
  auto here = tensor.to(state_->device).contiguous();
  all_reduce_sum_async(here, what).wait();
  tensor.copy_(here);
}

void ProcessGroup::broadcast(const std::vector<torch::Tensor>& tensors, const std::string& what) {
  // One flat broadcast per dtype instead of one per tensor.
  std::map<c10::ScalarType, std::vector<torch::Tensor>> by_type;
  for (const auto& t : tensors) by_type[t.scalar_type()].push_back(t);
  torch::NoGradGuard no_grad;
  for (auto& [type, group] : by_type) {
    std::vector<torch::Tensor> flat_parts;
    for (const auto& t : group) flat_parts.push_back(t.detach().reshape(-1).to(state_->device));
    std::vector<torch::Tensor> flat{torch::cat(flat_parts)};
    try {
      state_->collectives->broadcast(flat)->wait(state_->timeout);
    } catch (const std::exception& e) {
      fail(what, e.what());
    }
    std::int64_t offset = 0;
    for (const auto& t : group) {
      t.detach().copy_(flat[0].narrow(0, offset, t.numel()).view(t.sizes()));
      offset += t.numel();
    }
  }
}

torch::Tensor ProcessGroup::all_gather(const torch::Tensor& tensor, const std::string& what) {
  std::vector<torch::Tensor> input{tensor.detach().to(state_->device).contiguous()};
  std::vector<std::vector<torch::Tensor>> output(1);
  for (int r = 0; r < size(); ++r) output[0].push_back(torch::empty_like(input[0]));
  try {
    state_->collectives->allgather(output, input)->wait(state_->timeout);
  } catch (const std::exception& e) {
    fail(what, e.what());
  }
  return torch::stack(output[0]).to(tensor.device());
}

torch::Tensor ProcessGroup::all_gather_rows(const torch::Tensor& rows, const std::string& what) {
  const auto counts = all_gather(torch::tensor({rows.size(0)}, torch::kInt64).to(rows.device()), what).cpu();
  const std::int64_t most = counts.max().item<std::int64_t>();
  auto shape = rows.sizes().vec();
  shape[0] = most;
  auto padded = torch::zeros(shape, rows.options());
  padded.narrow(0, 0, rows.size(0)).copy_(rows);
  const auto gathered = all_gather(padded, what);
  std::vector<torch::Tensor> parts;
  for (int r = 0; r < size(); ++r) parts.push_back(gathered[r].narrow(0, 0, counts[r][0].item<std::int64_t>()));
  return torch::cat(parts);
}

torch::Tensor ProcessGroup::all_gather_differentiable(const torch::Tensor& tensor) {
  return AllGather::apply(tensor, this);
}

void ProcessGroup::arrive(const std::string& name) { state_->store->set(arrival_key(name, rank()), {1}); }

void ProcessGroup::wait_for_all(const std::string& name) {
  State& s = *state_;
  auto last = s.beats();
  std::vector<std::chrono::steady_clock::time_point> heard(static_cast<std::size_t>(size()),
                                                           std::chrono::steady_clock::now());
  for (;;) {
    bool all = true;
    for (int r = 0; r < size(); ++r) {
      if (s.store->check({arrival_key(name, r)})) continue;
      all = false;
      const auto stopped_for = std::chrono::steady_clock::now() - heard[static_cast<std::size_t>(r)];
      if (stopped_for > std::max<std::chrono::milliseconds>(s.timeout, kSilence)) {
        s.failed = true;
        throw DistributedError("rank " + std::to_string(rank()) + ": rank " + std::to_string(r) + " of " +
                               std::to_string(size()) + " stopped (no heartbeat for " + seconds(s.timeout) +
                               ") before it finished " + name);
      }
    }
    if (all) return;
    std::this_thread::sleep_for(kBeatEvery * 4);
    const auto beats = s.beats();
    const auto now = std::chrono::steady_clock::now();
    for (std::size_t r = 0; r < beats.size() && r < last.size(); ++r) {
      if (beats[r] != last[r]) heard[r] = now;
    }
    if (!beats.empty()) last = beats;
  }
}

}  // namespace derm
