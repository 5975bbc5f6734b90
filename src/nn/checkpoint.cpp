#include "checkpoint.hpp"

#include "derm/atomic_file.hpp"
#include "derm/error.hpp"
#include "derm/model_io.hpp"

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
          {"history", s.history}};
}

}  // namespace

void save_checkpoint(const fs::path& path, torch::nn::Module& network, torch::optim::Optimizer& optimizer,
                     const WeightAverage* average, const TrainingState& state, const json& identity) {
  torch::serialize::OutputArchive archive;
  torch::serialize::OutputArchive weights;
  for (const auto& [name, tensor] : state_dict(network)) weights.write(name, tensor.detach().cpu());
  archive.write("network", weights);
  if (average) {
    torch::serialize::OutputArchive averaged;
    for (const auto& [name, tensor] : average->tensors()) averaged.write(name, tensor.cpu());
    archive.write("weight_average", averaged);
  }
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
                  "use another --out or --no-resume");
    }
    torch::serialize::InputArchive weights;
    archive.read("network", weights);
    std::map<std::string, torch::Tensor> tensors;
    for (const auto& [name, target] : state_dict(network)) {
      torch::Tensor t;
      weights.read(name, t);
      tensors.emplace(name, t);
    }
    load_state_dict_strict(network, tensors, {}, path.string());
    if (average) {
      // The identity includes --ema-decay, so a checkpoint of this run has the average.
      torch::serialize::InputArchive averaged;
      archive.read("weight_average", averaged);
      torch::NoGradGuard no_grad;
      for (const auto& [name, target] : average->tensors()) {
        torch::Tensor t;
        averaged.read(name, t);
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
    state->history = j.at("history");
    return true;
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    const std::string reason = e.what();
    throw Error(path.string() + ": unreadable checkpoint (" + reason.substr(0, reason.find('\n')) +
                "); delete it or use --no-resume");
  }
}

}  // namespace derm
