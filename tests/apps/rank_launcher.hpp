#pragma once
// The tests' launcher of distributed jobs on loopback: every rank of a derm
// tool started as torchrun starts it (RANK, WORLD_SIZE, LOCAL_RANK,
// MASTER_ADDR=127.0.0.1, MASTER_PORT), its stdout and stderr kept in files.
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace derm::testing {

// A TCP port on loopback that nothing listened on a moment ago.
int free_port();

class Ranks {
 public:
  // `args` per rank (one list: the same for all). Logs go to logs/rank<r>.{out,err}.
  Ranks(const std::string& tool, const std::vector<std::vector<std::string>>& args, int world,
        const std::filesystem::path& logs, int port = free_port());
  Ranks(const std::string& tool, const std::vector<std::string>& args, int world, const std::filesystem::path& logs,
        int port = free_port())
      : Ranks(tool, std::vector<std::vector<std::string>>{args}, world, logs, port) {}
  ~Ranks();  // kills the ranks still running
  Ranks(const Ranks&) = delete;
  Ranks& operator=(const Ranks&) = delete;

  pid_t pid(int rank) const { return pids_[static_cast<std::size_t>(rank)]; }
  // The rank's exit code (128 + signal when a signal ended it), or -1 when it
  // is still running after `timeout`.
  int wait(int rank, std::chrono::milliseconds timeout);
  // Every rank's, in order.
  std::vector<int> wait_all(std::chrono::milliseconds timeout);
  std::string out(int rank) const;
  std::string err(int rank) const;

 private:
  std::filesystem::path logs_;
  std::vector<pid_t> pids_;
  std::vector<int> codes_;
};

}  // namespace derm::testing
