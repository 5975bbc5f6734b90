#pragma once
// The ensemble folder: what derm-train writes and derm-classify, derm-eval and
// derm-model read. No LibTorch in this header.
//
//   ensemble.json          {"members": ["member-1.safetensors", ...], "classes": [...],
//                           "decision": "majority_vote"}; written by the run that
//                           finds every member trained, so its presence means complete
//   member-K.safetensors   member K's model file (K = 1..N)
//   member-K.json          member K's training record: {"member", "file", "run" (what
//                           it was trained with), "best_epoch", "history", ...}
//   member-K.checkpoint    member K's resumable state while it trains
//   train-log.jsonl        one JSON line per epoch of every member
//   summary.json           the last derm-train run's summary
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace derm {

class EnsembleFolder {
 public:
  explicit EnsembleFolder(std::filesystem::path dir) : dir_(std::move(dir)) {}

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path listing() const { return dir_ / "ensemble.json"; }
  std::filesystem::path member_model(int member) const;
  std::filesystem::path member_record(int member) const;
  std::filesystem::path member_checkpoint(int member) const;
  std::filesystem::path training_log() const { return dir_ / "train-log.jsonl"; }
  std::filesystem::path summary() const { return dir_ / "summary.json"; }

  // Whether member K's model file and record are both there (it finished training).
  bool member_trained(int member) const;
  // Whether derm-train has worked in the folder (it has a training log).
  bool written_by_training() const;

  // Member K's record; derm::Error naming the file when it is unreadable.
  nlohmann::json read_member_record(int member) const;
  void write_member_record(int member, const nlohmann::json& record) const;
  // ensemble.json for members 1..count.
  void write_listing(int count, const std::vector<std::string>& classes) const;
  // The member model files ensemble.json names; derm::Error naming it when malformed.
  std::vector<std::filesystem::path> listed_models() const;

 private:
  std::filesystem::path dir_;
};

// The model files behind the given paths: a file as it is; a folder by its
// ensemble.json, else (a folder of model files not made by derm-train) every
// *.safetensors in name order. A derm-train folder without ensemble.json is an
// unfinished ensemble and refused; a model given twice is an OptionError
// ("models": it would vote twice), as is no model at all.
std::vector<std::filesystem::path> resolve_model_paths(const std::vector<std::filesystem::path>& models);

}  // namespace derm
