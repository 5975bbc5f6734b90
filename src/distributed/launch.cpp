#include "derm/distributed/launch.hpp"

#include <cstdlib>

#include "derm/core/error.hpp"

namespace derm {

namespace {

class Variables {
 public:
  explicit Variables(const Environment& environment) : environment_(environment) {}

  bool has(const std::string& name) const { return environment_(name).has_value(); }

  std::string text(const std::string& name, const std::string& hint) const {
    const auto value = environment_(name);
    if (!value || value->empty()) throw Error("environment variable " + name + " is not set" + hint);
    return *value;
  }

  int number(const std::string& name, int low, int high, const std::string& hint = "") const {
    const std::string value = text(name, hint);
    char* end = nullptr;
    const long n = std::strtol(value.c_str(), &end, 10);
    if (*end != '\0' || n < low || n > high) {
      throw Error("environment variable " + name + "='" + value + "' is not a whole number in [" +
                  std::to_string(low) + ", " + std::to_string(high) + "]");
    }
    return static_cast<int>(n);
  }

 private:
  const Environment& environment_;
};

constexpr int kMostRanks = 1 << 20;

}  // namespace

LaunchInfo launch_info(const Environment& environment) {
  const Variables v(environment);
  LaunchInfo launch;
  if (v.has("WORLD_SIZE")) {
    launch.launcher = "torchrun";
    launch.world_size = v.number("WORLD_SIZE", 1, kMostRanks);
    launch.rank = v.number("RANK", 0, launch.world_size - 1);
    launch.local_rank = v.has("LOCAL_RANK") ? v.number("LOCAL_RANK", 0, launch.world_size - 1) : launch.rank;
  } else if (v.has("SLURM_NTASKS") && v.has("SLURM_PROCID")) {
    launch.launcher = "slurm";
    launch.world_size = v.number("SLURM_NTASKS", 1, kMostRanks);
    launch.rank = v.number("SLURM_PROCID", 0, launch.world_size - 1);
    launch.local_rank = v.has("SLURM_LOCALID") ? v.number("SLURM_LOCALID", 0, launch.world_size - 1) : 0;
  } else {
    return launch;
  }
  if (!launch.distributed()) return launch;
  const std::string hint = launch.launcher == "slurm"
                               ? " (in the job script: export MASTER_ADDR=$(scontrol show hostnames "
                                 "\"$SLURM_JOB_NODELIST\" | head -n 1) MASTER_PORT=29500)"
                               : "";
  launch.master_addr = v.text("MASTER_ADDR", hint);
  launch.master_port = v.number("MASTER_PORT", 1, 65535, hint);
  return launch;
}

LaunchInfo launch_info_from_environment() {
  return launch_info([](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (!value) return std::nullopt;
    return std::string(value);
  });
}

}  // namespace derm
