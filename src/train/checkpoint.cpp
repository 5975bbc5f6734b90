#include "checkpoint.hpp"

#include <map>
#include <string>

#include "derm/core/atomic_file.hpp"
#include "derm/core/error.hpp"
#include "derm/model/model_io.hpp"
#include "derm/model/state_dict.hpp"

namespace derm {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json state_to_json(const TrainingState& s, const json& identity) {
  return {{"identity", identity},
          {"epoch", s.epoch},
          {"planned_epochs", s.planned_epochs},
          {"step_in_epoch", s.step_in_epoch},
          {"global_step", s.global_step},
          {"best_metric", std::isnan(s.best_metric) ? json(nullptr) : json(s.best_metric)},
          {"best_epoch", s.best_epoch},
          {"stale_epochs", s.stale_epochs},
          {"epoch_loss_sum", s.epoch_loss_sum},
          {"epoch_loss_count", s.epoch_loss_count},
          {"stopped_early", s.stopped_early},
          {"micro_batches", s.micro_batches},
          {"sync_batchnorm", s.sync_batchnorm},
          {"history", s.history}};
}

// The tensors under their names, on the CPU, as archive `key`.
void write_named(torch::serialize::OutputArchive& archive, const std::string& key, const NamedTensors& tensors) {
  torch::serialize::OutputArchive named;
  for (const auto& [name, tensor] : tensors) named.write(name, tensor.detach().cpu());
  archive.write(key, named);
}

// The tensors archive `key` holds under the names of `expected` (a missing one is an error).
std::map<std::string, torch::Tensor> read_named(torch::serialize::InputArchive& archive, const std::string& key,
                                                const NamedTensors& expected) {
  torch::serialize::InputArchive tensors;
  archive.read(key, tensors);
  std::map<std::string, torch::Tensor> read;
  for (const auto& [name, unused] : expected) {
    torch::Tensor t;
    tensors.read(name, t);
    read.emplace(name, t);
  }
  return read;
}

}  // namespace

void save_checkpoint(const fs::path& path, torch::nn::Module& network, torch::optim::Optimizer& optimizer,
                     const WeightAverage* average, const TrainingState& state, const json& identity) {
  torch::serialize::OutputArchive archive;
  write_named(archive, "network", state_dict(network));
  if (average) write_named(archive, "weight_average", average->tensors());
  torch::serialize::OutputArchive optimizer_archive;
  optimizer.save(optimizer_archive);
  archive.write("optimizer", optimizer_archive);
  archive.write("state", c10::IValue(state_to_json(state, identity).dump()));
  write_path_atomically(path, [&](const fs::path& tmp) { archive.save_to(tmp.string()); });
}

bool load_checkpoint(const fs::path& path, torch::nn::Module& network, torch::optim::Optimizer& optimizer,
                     WeightAverage* average, TrainingState* state, const json& identity, const torch::Device& device) {
  if (!fs::exists(path)) return false;
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path.string(), device);
    c10::IValue text;
    if (!archive.try_read("state", text)) throw Error(path.string() + ": not a derm checkpoint");
    const json j = json::parse(text.toStringRef());
    if (j.at("identity") != identity) {
      throw Error(path.string() + ": checkpoint of a run with other options, data or seed; "
                  "use another output folder, or start over without resuming");
    }
    load_state_dict_strict(network, read_named(archive, "network", state_dict(network)), {}, path.string());
    if (average) {
      // The identity includes ema_decay, so a checkpoint of this run has the average.
      const auto averaged = read_named(archive, "weight_average", average->tensors());
      torch::NoGradGuard no_grad;
      for (const auto& [name, target] : average->tensors()) {
        const torch::Tensor& t = averaged.at(name);
        if (!t.sizes().equals(target.sizes())) {
          throw Error(path.string() + ": weight average '" + name + "' has another shape");
        }
        target.copy_(t);
      }
    }
    torch::serialize::InputArchive optimizer_archive;
    archive.read("optimizer", optimizer_archive);
    optimizer.load(optimizer_archive);
    state->epoch = j.at("epoch");
    state->planned_epochs = j.at("planned_epochs");
    state->step_in_epoch = j.at("step_in_epoch");
    state->global_step = j.at("global_step");
    state->best_metric = j.at("best_metric").is_null() ? std::numeric_limits<double>::quiet_NaN()
                                                        : j.at("best_metric").get<double>();
    state->best_epoch = j.at("best_epoch");
    state->stale_epochs = j.at("stale_epochs");
    state->epoch_loss_sum = j.at("epoch_loss_sum");
    state->epoch_loss_count = j.at("epoch_loss_count");
    state->stopped_early = j.at("stopped_early");
    state->micro_batches = j.value("micro_batches", 1);
    state->sync_batchnorm = j.value("sync_batchnorm", false);
    state->history = j.at("history");
    return true;
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    const std::string reason = e.what();
    throw Error(path.string() + ": unreadable checkpoint (" + reason.substr(0, reason.find('\n')) +
                "); delete it, or start over without resuming");
  }
}

}  // namespace derm
