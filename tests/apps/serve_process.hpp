#pragma once
// derm-serve started by a test: its own process, the address from the first
// line of its stdout, its stderr in a file, stopped by a signal.
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include <sys/types.h>

namespace derm::testing {

class ServeProcess {
 public:
  // Starts build/apps/derm-serve with `args` and waits for its address (and,
  // with wait_ready, for /readyz to say 200), at most `timeout`; fails the test otherwise.
  ServeProcess(const std::vector<std::string>& args, const std::filesystem::path& log, bool wait_ready = true,
               std::chrono::seconds timeout = std::chrono::seconds(120));
  // SIGKILLs a process still running.
  ~ServeProcess();
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  int port() const { return port_; }
  // Sends `signal`; the exit code within `timeout` (128 + signal when killed
  // by one), or -1 when it did not exit.
  int stop(int signal, std::chrono::seconds timeout = std::chrono::seconds(60));

 private:
  pid_t pid_ = -1;
  int port_ = -1;
};

}  // namespace derm::testing
