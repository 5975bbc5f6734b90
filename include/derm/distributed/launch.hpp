#pragma once
// Which process of a distributed job this one is, as its launcher says:
// torchrun (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT) or SLURM's
// srun (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, with MASTER_ADDR and
// MASTER_PORT exported by the job script).
#include <functional>
#include <optional>
#include <string>

#include "derm/core/enum_names.hpp"

namespace derm {

// The collectives' engine: NCCL for CUDA devices, Gloo for the CPU (auto picks by device).
enum class DistBackend { automatic, nccl, gloo };
template <>
struct EnumNames<DistBackend> {
  static constexpr const char* what = "distributed backend";
  static constexpr EnumName<DistBackend> names[] = {
      {DistBackend::automatic, "auto"}, {DistBackend::nccl, "nccl"}, {DistBackend::gloo, "gloo"}};
};

struct LaunchInfo {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;  // the process's index on its machine: its GPU
  std::string master_addr;
  int master_port = 0;
  std::string launcher;  // "torchrun", "slurm", or "" for a process started alone

  bool distributed() const { return world_size > 1; }
};

// An environment variable's value, or nullopt when it is not set.
using Environment = std::function<std::optional<std::string>(const std::string& name)>;

// torchrun's variables when WORLD_SIZE is set, otherwise srun's when
// SLURM_NTASKS and SLURM_PROCID are, otherwise a single process. derm::Error
// naming the variable when one is missing, not a number or out of range.
LaunchInfo launch_info(const Environment& environment);
LaunchInfo launch_info_from_environment();

}  // namespace derm
