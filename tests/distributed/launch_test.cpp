#include "derm/distributed/launch.hpp"

#include <map>

#include <gtest/gtest.h>

#include "derm/core/error.hpp"

namespace derm {
namespace {

LaunchInfo parse(const std::map<std::string, std::string>& variables) {
  return launch_info([&](const std::string& name) -> std::optional<std::string> {
    const auto it = variables.find(name);
    if (it == variables.end()) return std::nullopt;
    return it->second;
  });
}

std::string error_of(const std::map<std::string, std::string>& variables) {
  try {
    parse(variables);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(LaunchInfo, AProcessStartedAloneIsOneRank) {
  const LaunchInfo alone = parse({});
  EXPECT_FALSE(alone.distributed());
  EXPECT_EQ(alone.launcher, "");
  // torchrun --nproc-per-node=1: one rank, no rendezvous needed.
  EXPECT_FALSE(parse({{"WORLD_SIZE", "1"}, {"RANK", "0"}}).distributed());
}

TEST(LaunchInfo, ReadsTorchrunsVariables) {
  const LaunchInfo l = parse({{"WORLD_SIZE", "16"}, {"RANK", "9"}, {"LOCAL_RANK", "1"}, {"MASTER_ADDR", "node-0"},
                              {"MASTER_PORT", "29500"}, {"SLURM_NTASKS", "2"}, {"SLURM_PROCID", "0"}});
  EXPECT_EQ(l.launcher, "torchrun") << "torchrun inside a SLURM job: its variables win";
  EXPECT_EQ(l.world_size, 16);
  EXPECT_EQ(l.rank, 9);
  EXPECT_EQ(l.local_rank, 1);
  EXPECT_EQ(l.master_addr, "node-0");
  EXPECT_EQ(l.master_port, 29500);
}

TEST(LaunchInfo, ReadsSrunsVariables) {
  const LaunchInfo l = parse({{"SLURM_NTASKS", "8"}, {"SLURM_PROCID", "5"}, {"SLURM_LOCALID", "1"},
                              {"MASTER_ADDR", "10.0.0.1"}, {"MASTER_PORT", "12345"}});
  EXPECT_EQ(l.launcher, "slurm");
  EXPECT_EQ(l.world_size, 8);
  EXPECT_EQ(l.rank, 5);
  EXPECT_EQ(l.local_rank, 1);
}

TEST(LaunchInfo, MissingOrImpossibleVariablesAreNamed) {
  EXPECT_NE(error_of({{"WORLD_SIZE", "2"}, {"MASTER_ADDR", "a"}, {"MASTER_PORT", "1"}}).find("RANK is not set"),
            std::string::npos);
  EXPECT_NE(error_of({{"WORLD_SIZE", "two"}}).find("WORLD_SIZE='two'"), std::string::npos);
  EXPECT_NE(error_of({{"WORLD_SIZE", "0"}}).find("WORLD_SIZE='0'"), std::string::npos);
  EXPECT_NE(error_of({{"WORLD_SIZE", "2"}, {"RANK", "-1"}}).find("RANK='-1'"), std::string::npos);
  EXPECT_NE(error_of({{"WORLD_SIZE", "2"}, {"RANK", "1"}, {"MASTER_PORT", "1"}}).find("MASTER_ADDR is not set"),
            std::string::npos);
  EXPECT_NE(error_of({{"WORLD_SIZE", "2"}, {"RANK", "1"}, {"MASTER_ADDR", "a"}, {"MASTER_PORT", "70000"}})
                .find("MASTER_PORT='70000'"),
            std::string::npos);
  EXPECT_NE(error_of({{"SLURM_NTASKS", "2"}, {"SLURM_PROCID", "1"}, {"MASTER_PORT", "1"}}).find("scontrol"),
            std::string::npos)
      << "says how a job script sets it";
}

}  // namespace
}  // namespace derm
