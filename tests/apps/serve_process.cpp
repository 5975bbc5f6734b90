#include "serve_process.hpp"

#include <csignal>
#include <cstdio>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "derm/core/atomic_file.hpp"
#include "test_support.hpp"

namespace derm::testing {
namespace {

using Clock = std::chrono::steady_clock;

// The first line written to `fd`, or "" when none comes before `deadline`.
std::string first_line(int fd, Clock::time_point deadline) {
  std::string line;
  char c = 0;
  while (Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (poll(&p, 1, static_cast<int>(std::max<long long>(1, left))) <= 0) continue;
    if (read(fd, &c, 1) != 1) break;
    if (c == '\n') return line;
    line += c;
  }
  return "";
}

}  // namespace

ServeProcess::ServeProcess(const std::vector<std::string>& args, const std::filesystem::path& log, bool wait_ready,
                           std::chrono::seconds timeout) {
  int out[2];
  if (pipe(out) != 0) ADD_FAILURE() << "pipe failed";
  const std::string tool = tool_path("derm-serve").string();
  pid_ = fork();
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // no server outlives a test killed by CTest's timeout
    dup2(out[1], STDOUT_FILENO);
    const int err = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(err, STDERR_FILENO);
    close(out[0]);
    std::vector<char*> argv{const_cast<char*>(tool.c_str())};
    for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    execv(tool.c_str(), argv.data());
    _exit(127);
  }
  close(out[1]);
  const auto deadline = Clock::now() + timeout;
  const std::string line = first_line(out[0], deadline);
  close(out[0]);
  if (line.empty()) {
    ADD_FAILURE() << "derm-serve printed no address; its log:\n" << read_file(log);
    return;
  }
  port_ = nlohmann::json::parse(line).at("port").get<int>();
  if (!wait_ready) return;
  httplib::Client client("127.0.0.1", port_);
  while (Clock::now() < deadline) {
    const auto res = client.Get("/readyz");
    if (res && res->status == 200) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "derm-serve never became ready; its log:\n" << read_file(log);
}

ServeProcess::~ServeProcess() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
}

int ServeProcess::stop(int signal, std::chrono::seconds timeout) {
  if (pid_ <= 0) return -1;
  kill(pid_, signal);
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return -1;
}

}  // namespace derm::testing
