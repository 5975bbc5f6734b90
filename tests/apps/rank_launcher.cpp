#include "rank_launcher.hpp"

#include <csignal>
#include <cstdlib>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "derm/core/atomic_file.hpp"
#include "test_support.hpp"

namespace derm::testing {

namespace fs = std::filesystem;

int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t size = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  close(fd);
  return ntohs(address.sin_port);
}

Ranks::Ranks(const std::string& tool, const std::vector<std::vector<std::string>>& args, int world,
             const fs::path& logs, int port)
    : logs_(logs) {
  fs::create_directories(logs);
  const std::string path = tool_path(tool).string();
  for (int rank = 0; rank < world; ++rank) {
    const auto& mine = args.size() == 1 ? args[0] : args[static_cast<std::size_t>(rank)];
    const std::string out = (logs / ("rank" + std::to_string(rank) + ".out")).string();
    const std::string err = (logs / ("rank" + std::to_string(rank) + ".err")).string();
    const pid_t pid = fork();
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // no rank outlives a test killed by CTest's timeout
      setenv("RANK", std::to_string(rank).c_str(), 1);
      setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
      setenv("WORLD_SIZE", std::to_string(world).c_str(), 1);
      setenv("MASTER_ADDR", "127.0.0.1", 1);
      setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      const int out_fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int err_fd = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(out_fd, STDOUT_FILENO);
      dup2(err_fd, STDERR_FILENO);
      std::vector<char*> argv{const_cast<char*>(path.c_str())};
      for (const auto& arg : mine) argv.push_back(const_cast<char*>(arg.c_str()));
      argv.push_back(nullptr);
      execv(path.c_str(), argv.data());
      _exit(127);
    }
    pids_.push_back(pid);
    codes_.push_back(-1);
  }
}

Ranks::~Ranks() {
  for (std::size_t r = 0; r < pids_.size(); ++r) {
    if (codes_[r] != -1) continue;
    kill(pids_[r], SIGKILL);
    waitpid(pids_[r], nullptr, 0);
  }
}

int Ranks::wait(int rank, std::chrono::milliseconds timeout) {
  auto& code = codes_[static_cast<std::size_t>(rank)];
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (code == -1) {
    int status = 0;
    if (waitpid(pid(rank), &status, WNOHANG) == pid(rank)) {
      code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return code;
}

std::vector<int> Ranks::wait_all(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<int> codes;
  for (int r = 0; r < static_cast<int>(pids_.size()); ++r) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    codes.push_back(wait(r, std::max(left, std::chrono::milliseconds(0))));
  }
  return codes;
}

std::string Ranks::out(int rank) const { return read_file(logs_ / ("rank" + std::to_string(rank) + ".out")); }
std::string Ranks::err(int rank) const { return read_file(logs_ / ("rank" + std::to_string(rank) + ".err")); }

}  // namespace derm::testing
