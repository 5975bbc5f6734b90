// derm-train and derm-eval as the ranks of a distributed job on loopback over
// c10d Gloo, started by the tests' own launcher as torchrun would start them:
// the same steps as one process, ranks that fail, resumption, members spread
// over ranks, and launch mistakes.
#include <csignal>
#include <fstream>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "derm/core/atomic_file.hpp"
#include "derm/model/safetensors.hpp"
#include "rank_launcher.hpp"
#include "test_support.hpp"
#include "tool_fixtures.hpp"

namespace derm::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

// Common options of the small runs: 8 training images in one batch of 8, 75 px, one thread.
std::vector<std::string> small_run(const fs::path& manifest, const fs::path& out, std::vector<std::string> more) {
  std::vector<std::string> args{"--manifest", manifest.string(), "--out", out.string(), "--input-size", "75",
                                "--backbone-size", "75", "--batch-size", "8", "--seed", "5", "--device", "cpu",
                                "--threads", "1", "-j", "1", "--quiet"};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

std::string joined(const std::vector<std::string>& args) {
  std::string text;
  for (const auto& arg : args) text += " " + quoted(fs::path(arg));
  return text;
}

int train_alone(const std::vector<std::string>& args, std::string* err = nullptr) {
  std::string out, e;
  const int code = run_command(quoted(tool_path("derm-train")) + joined(args), &out, &e);
  if (err) *err = e;
  return code;
}

// The largest difference between two model files' tensors (BatchNorm's
// statistics and counts included); infinity when their names or shapes differ.
double max_difference(const fs::path& a, const fs::path& b) {
  const auto ta = read_safetensors(a).tensors;
  const auto tb = read_safetensors(b).tensors;
  if (ta.size() != tb.size()) return INFINITY;
  double most = 0;
  for (const auto& [name, tensor] : ta) {
    const auto other = tb.find(name);
    if (other == tb.end() || !other->second.sizes().equals(tensor.sizes())) return INFINITY;
    most = std::max(most, (tensor.to(torch::kFloat64) - other->second.to(torch::kFloat64)).abs().max().item<double>());
  }
  return most;
}

// The last line of a log.
std::string last_line(const std::string& text) {
  const auto end = text.find_last_not_of('\n');
  if (end == std::string::npos) return "";
  const auto start = text.rfind('\n', end);
  return text.substr(start == std::string::npos ? 0 : start + 1, end - (start == std::string::npos ? 0 : start + 1) + 1);
}

// Once `checkpoint` exists (within 2 minutes, while rank 0 runs), sends
// `signal` to rank 1 and waits up to a minute for rank 0 to stop.
struct RankZeroStop {
  bool checkpointed = false;
  int code = -1;         // rank 0's exit code; -1 when it did not stop
  double seconds = 0;    // from the signal to rank 0's exit
};
RankZeroStop signal_rank_one_after(Ranks& ranks, const fs::path& checkpoint, int signal) {
  RankZeroStop stop;
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (!fs::exists(checkpoint) && std::chrono::steady_clock::now() < deadline && ranks.wait(0, 0ms) == -1) {
    std::this_thread::sleep_for(5ms);
  }
  stop.checkpointed = fs::exists(checkpoint);
  if (!stop.checkpointed) return stop;
  kill(ranks.pid(1), signal);
  const auto sent = std::chrono::steady_clock::now();
  stop.code = ranks.wait(0, 60s);
  stop.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - sent).count();
  return stop;
}

class DistributedCli : public ::testing::Test {
 protected:
  void SetUp() override { manifest_ = write_synthetic_manifest(dir_ / "data", 8); }
  TempDir dir_;
  fs::path manifest_;
};

// DDP semantics: two ranks of 4 images each take the step of one process that
// accumulates two micro-batches of 4 (the same BatchNorm statistics and dropout).
TEST_F(DistributedCli, TwoRanksTakeTheStepsOfOneProcessAccumulatingTwoMicroBatches) {
  const std::vector<std::string> schedule{"--epochs", "2", "--steps-per-epoch", "3", "--ensemble", "1", "--json"};
  std::string err;
  ASSERT_EQ(train_alone(small_run(manifest_, dir_ / "alone", schedule), &err), 0) << err;
  auto accumulate = schedule;
  accumulate.insert(accumulate.end(), {"--accumulate-steps", "2"});
  ASSERT_EQ(train_alone(small_run(manifest_, dir_ / "accumulated", accumulate), &err), 0) << err;
  Ranks ranks("derm-train", small_run(manifest_, dir_ / "ranks", schedule), 2, dir_ / "logs");
  ASSERT_EQ(ranks.wait_all(120s), (std::vector<int>{0, 0})) << ranks.err(0) << ranks.err(1);

  EXPECT_LE(max_difference(dir_ / "ranks" / "member-1.safetensors", dir_ / "accumulated" / "member-1.safetensors"),
            1e-5);
  // Not a comparison that always holds: BatchNorm over 8 images is another step.
  EXPECT_GT(max_difference(dir_ / "ranks" / "member-1.safetensors", dir_ / "alone" / "member-1.safetensors"), 1e-3);
  EXPECT_EQ(json::parse(ranks.out(0))["members"].size(), 1u) << "rank 0 reports";
  EXPECT_EQ(ranks.out(1), "") << "the other ranks do not";
  const json record = json::parse(std::ifstream(dir_ / "ranks" / "member-1.json"));
  const json alone = json::parse(std::ifstream(dir_ / "accumulated" / "member-1.json"));
  ASSERT_EQ(record["history"].size(), 2u);
  for (std::size_t e = 0; e < 2; ++e) {
    EXPECT_NEAR(record["history"][e]["val_loss"].get<double>(), alone["history"][e]["val_loss"].get<double>(), 1e-5);
    EXPECT_NEAR(record["history"][e]["train_loss"].get<double>(), alone["history"][e]["train_loss"].get<double>(),
                1e-5);
  }
}

// With --sync-batchnorm the ranks normalise by the whole batch's statistics:
// one SGD step moves the weights as one process with the whole batch does
// (up to float32 rounding, amplified by BatchNorm's backward), where
// per-rank statistics move them elsewhere.
TEST_F(DistributedCli, SynchronisedBatchNormTakesTheWholeBatchsStep) {
  const std::vector<std::string> one_step{"--epochs", "1", "--steps-per-epoch", "1", "--ensemble", "1",
                                          "--val-split", "", "--warmup-epochs", "0", "--optimizer", "sgd",
                                          "--dropout", "0"};
  const auto with = [&](std::vector<std::string> more) {
    auto args = one_step;
    args.insert(args.end(), more.begin(), more.end());
    return args;
  };
  std::string err;
  ASSERT_EQ(train_alone(small_run(manifest_, dir_ / "start", with({"--lr", "1e-30"})), &err), 0) << err;
  ASSERT_EQ(train_alone(small_run(manifest_, dir_ / "whole", with({"--lr", "0.01"})), &err), 0) << err;
  {
    Ranks ranks("derm-train", small_run(manifest_, dir_ / "synced", with({"--lr", "0.01", "--sync-batchnorm"})), 2,
                dir_ / "logs-synced");
    ASSERT_EQ(ranks.wait_all(120s), (std::vector<int>{0, 0})) << ranks.err(0) << ranks.err(1);
  }
  {
    Ranks ranks("derm-train", small_run(manifest_, dir_ / "per-rank", with({"--lr", "0.01"})), 2, dir_ / "logs-plain");
    ASSERT_EQ(ranks.wait_all(120s), (std::vector<int>{0, 0})) << ranks.err(0) << ranks.err(1);
  }
  const auto file = [&](const char* run) { return dir_ / run / "member-1.safetensors"; };
  const double step = max_difference(file("whole"), file("start"));
  const double synced = max_difference(file("synced"), file("whole"));
  const double per_rank = max_difference(file("per-rank"), file("whole"));
  ASSERT_GT(step, 1e-3);
  // Measured: 0.7% of the step, against 780% for per-rank statistics.
  EXPECT_LT(synced, 0.05 * step) << "synced " << synced << ", per-rank " << per_rank << ", step " << step;
  EXPECT_GT(per_rank, 0.5 * step) << "synced " << synced << ", per-rank " << per_rank << ", step " << step;
}

TEST_F(DistributedCli, EvaluationOnTwoRanksReportsWhatOneProcessDoes) {
  std::string err, alone_out;
  ASSERT_EQ(train_alone(small_run(manifest_, dir_ / "model", {"--epochs", "1", "--steps-per-epoch", "2",
                                                              "--ensemble", "2"}),
                        &err),
            0)
      << err;
  // 8 images in batches of 3: rank 0 takes 3 + 2, rank 1 takes 3.
  const std::vector<std::string> eval{"--model", (dir_ / "model").string(), "--manifest", manifest_.string(),
                                      "--split", "val", "--device", "cpu", "--threads", "1", "-j", "1",
                                      "--batch-size", "3", "--json", "--quiet", "--threshold-policy", "youden",
                                      "--val-split", "train"};
  auto alone = eval;
  alone.insert(alone.end(), {"--out", (dir_ / "alone").string()});
  ASSERT_EQ(run_command(quoted(tool_path("derm-eval")) + joined(alone), &alone_out, &err), 0) << err;
  auto distributed = eval;
  distributed.insert(distributed.end(), {"--out", (dir_ / "ranks").string()});
  Ranks ranks("derm-eval", distributed, 2, dir_ / "logs");
  ASSERT_EQ(ranks.wait_all(120s), (std::vector<int>{0, 0})) << ranks.err(0) << ranks.err(1);
  json report = json::parse(ranks.out(0));
  json reference = json::parse(alone_out);
  report["source"].erase("out");
  reference["source"].erase("out");
  EXPECT_EQ(report, reference);
  EXPECT_EQ(read_file(dir_ / "ranks" / "predictions.csv"), read_file(dir_ / "alone" / "predictions.csv"));
  EXPECT_EQ(ranks.out(1), "");
}

// A rank killed mid-run: the other stops within --dist-timeout with one line
// naming it, the last checkpoint is intact, and the same launch again resumes
// to the weights of an uninterrupted run.
TEST_F(DistributedCli, AKilledRankStopsTheOtherNamingItAndTheSameLaunchResumes) {
  const auto args = small_run(manifest_, dir_ / "cut", {"--epochs", "3", "--steps-per-epoch", "6", "--ensemble", "1",
                                                        "--checkpoint-every", "2", "--dist-timeout", "5"});
  {
    Ranks ranks("derm-train", args, 2, dir_ / "logs-cut");
    const RankZeroStop stop = signal_rank_one_after(ranks, dir_ / "cut" / "member-1.checkpoint", SIGKILL);
    ASSERT_TRUE(stop.checkpointed) << ranks.err(0);
    EXPECT_NE(stop.code, 0);
    EXPECT_NE(stop.code, -1) << "rank 0 did not stop";
    EXPECT_LT(stop.seconds, 5 + 10) << "--dist-timeout 5, the diagnosis and exit";
    const std::string line = last_line(ranks.err(0));
    EXPECT_NE(line.find("rank 1 of 2 stopped"), std::string::npos) << ranks.err(0);
    EXPECT_NE(line.find("resumes"), std::string::npos) << line;
  }
  {
    auto logged = args;
    logged.erase(std::find(logged.begin(), logged.end(), "--quiet"));
    Ranks again("derm-train", logged, 2, dir_ / "logs-again");
    ASSERT_EQ(again.wait_all(120s), (std::vector<int>{0, 0})) << again.err(0) << again.err(1);
    EXPECT_NE(again.err(0).find("resuming"), std::string::npos) << again.err(0);
  }
  auto whole_args = args;
  whole_args[3] = (dir_ / "whole").string();  // --out
  Ranks whole("derm-train", whole_args, 2, dir_ / "logs-whole");
  ASSERT_EQ(whole.wait_all(120s), (std::vector<int>{0, 0})) << whole.err(0) << whole.err(1);
  EXPECT_EQ(max_difference(dir_ / "cut" / "member-1.safetensors", dir_ / "whole" / "member-1.safetensors"), 0.0);
}

TEST_F(DistributedCli, AHungRankIsNamedWithinTheTimeout) {
  Ranks ranks("derm-train",
              small_run(manifest_, dir_ / "hung", {"--epochs", "3", "--steps-per-epoch", "6", "--ensemble", "1",
                                                   "--checkpoint-every", "2", "--dist-timeout", "3"}),
              2, dir_ / "logs");
  const RankZeroStop stop = signal_rank_one_after(ranks, dir_ / "hung" / "member-1.checkpoint", SIGSTOP);
  ASSERT_TRUE(stop.checkpointed) << ranks.err(0);
  EXPECT_NE(stop.code, 0);
  EXPECT_NE(stop.code, -1) << "rank 0 did not stop";
  EXPECT_LT(stop.seconds, 3 + 10) << "--dist-timeout 3, the diagnosis and exit";
  EXPECT_NE(last_line(ranks.err(0)).find("rank 1 of 2 stopped"), std::string::npos) << ranks.err(0);
}

// --distribute members: member k on rank (k - 1) mod 2; the ensemble is the one
// process's, and rank 0 writes ensemble.json once rank 1's member is there.
TEST_F(DistributedCli, MembersSpreadOverRanksMakeTheEnsembleOfOneProcess) {
  const std::vector<std::string> schedule{"--epochs", "1", "--steps-per-epoch", "2", "--ensemble", "3"};
  std::string err;
  ASSERT_EQ(train_alone(small_run(manifest_, dir_ / "alone", schedule), &err), 0) << err;
  auto spread = schedule;
  spread.insert(spread.end(), {"--distribute", "members"});
  Ranks ranks("derm-train", small_run(manifest_, dir_ / "spread", spread), 2, dir_ / "logs");
  ASSERT_EQ(ranks.wait_all(180s), (std::vector<int>{0, 0})) << ranks.err(0) << ranks.err(1);
  for (int m = 1; m <= 3; ++m) {
    const std::string file = "member-" + std::to_string(m) + ".safetensors";
    EXPECT_EQ(max_difference(dir_ / "spread" / file, dir_ / "alone" / file), 0.0) << file;
  }
  EXPECT_TRUE(fs::exists(dir_ / "spread" / "ensemble.json"));
  EXPECT_EQ(json::parse(std::ifstream(dir_ / "spread" / "summary.json"))["members"].size(), 3u);
}

TEST_F(DistributedCli, LaunchMistakesAreOneLineErrorsNamingTheVariableOrOption) {
  const auto args = small_run(manifest_, dir_ / "out", {"--epochs", "1", "--ensemble", "1", "--dist-timeout", "3"});
  const auto one_line = [](const std::string& err) { return std::count(err.begin(), err.end(), '\n') == 1; };
  {
    // Rank 0's port is taken.
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_ANY);
    const int port = free_port();
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    ASSERT_EQ(listen(fd, 1), 0);
    Ranks ranks("derm-train", args, 1, dir_ / "logs-port", port);
    // WORLD_SIZE=1 is a process alone: the port is not even looked at.
    EXPECT_EQ(ranks.wait(0, 120s), 0) << ranks.err(0);
    Ranks two("derm-train", args, 2, dir_ / "logs-port2", port);
    EXPECT_EQ(two.wait(0, 60s), 1);
    EXPECT_NE(two.err(0).find("MASTER_PORT " + std::to_string(port) + " is in use"), std::string::npos) << two.err(0);
    EXPECT_TRUE(one_line(two.err(0))) << two.err(0);
    close(fd);
  }
  struct Case {
    std::string environment, expected;
  };
  const std::vector<Case> cases{
      {"WORLD_SIZE=2 RANK=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=29500", "RANK='2'"},
      {"WORLD_SIZE=2 RANK=1 MASTER_PORT=29500", "MASTER_ADDR is not set"},
      {"WORLD_SIZE=2 RANK=1 MASTER_ADDR=127.0.0.1 MASTER_PORT=99999", "MASTER_PORT='99999'"},
      {"SLURM_NTASKS=2 SLURM_PROCID=1 MASTER_ADDR=127.0.0.1", "MASTER_PORT is not set (in the job script"},
      {"WORLD_SIZE=3 RANK=1 MASTER_ADDR=127.0.0.1 MASTER_PORT=29500", "--batch-size 8 does not split into 3 ranks"},
  };
  for (const auto& c : cases) {
    std::string out, err;
    EXPECT_NE(run_command("env " + c.environment + " " + quoted(tool_path("derm-train")) + joined(args), &out, &err),
              0)
        << c.environment;
    EXPECT_NE(err.find(c.expected), std::string::npos) << c.environment << " -> " << err;
    EXPECT_TRUE(one_line(err)) << c.environment << " -> " << err;
  }
  // A rank whose peers never come: the rendezvous gives up after --dist-timeout.
  Ranks lonely("derm-train", args, 2, dir_ / "logs-lonely");
  kill(lonely.pid(1), SIGKILL);
  EXPECT_EQ(lonely.wait(0, 60s), 1);
  const std::string lonely_err = lonely.err(0);
  // Killed before or after it reached the rendezvous.
  EXPECT_TRUE(lonely_err.find("did not gather all 2 ranks") != std::string::npos ||
              lonely_err.find("rank 1 of 2 never joined") != std::string::npos ||
              lonely_err.find("rank 1 of 2 stopped") != std::string::npos)
      << lonely_err;
}

}  // namespace
}  // namespace derm::testing
