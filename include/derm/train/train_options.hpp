#pragma once
// What a derm-train run is given: the options, their validation, and the
// identity of a run (what a checkpoint or a trained member must match). No
// LibTorch in this header.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "derm/augment/augment_params.hpp"
#include "derm/core/enum_names.hpp"
#include "derm/core/image.hpp"
#include "derm/distributed/launch.hpp"
#include "derm/model/model_metadata.hpp"

namespace derm {

enum class OptimizerKind { sgd, adamw };
enum class ClassBalance { none, sampler, loss };  // sampler: class-balanced draws; loss: inverse-frequency weights
enum class SelectionMetric { auc, loss };         // auc: mean one-vs-rest AUC of the positive classes
// Where the training images live: decoded in host memory and augmented by
// OpenCV per sample, or as uint8 tensors on the training device (the GPU) and
// augmented there in batches (derm::TensorAugmenter). auto: on the device when
// training on CUDA with augmentation and the images fit in device_cache_mb.
enum class DataPlacement { automatic, device, host };
// What the ranks of a distributed run (torchrun, srun) share: each step's batch
// (data), or the ensemble, member k going to rank (k - 1) mod W (members).
enum class Distribution { data, members };

template <>
struct EnumNames<OptimizerKind> {
  static constexpr const char* what = "optimizer";
  static constexpr EnumName<OptimizerKind> names[] = {{OptimizerKind::sgd, "sgd"}, {OptimizerKind::adamw, "adamw"}};
};
template <>
struct EnumNames<ClassBalance> {
  static constexpr const char* what = "class balance";
  static constexpr EnumName<ClassBalance> names[] = {
      {ClassBalance::none, "none"}, {ClassBalance::sampler, "sampler"}, {ClassBalance::loss, "loss"}};
};
template <>
struct EnumNames<SelectionMetric> {
  static constexpr const char* what = "selection metric";
  static constexpr EnumName<SelectionMetric> names[] = {{SelectionMetric::auc, "auc"}, {SelectionMetric::loss, "loss"}};
};
template <>
struct EnumNames<Distribution> {
  static constexpr const char* what = "distribution";
  static constexpr EnumName<Distribution> names[] = {{Distribution::data, "data"}, {Distribution::members, "members"}};
};
template <>
struct EnumNames<DataPlacement> {
  static constexpr const char* what = "data placement";
  static constexpr EnumName<DataPlacement> names[] = {
      {DataPlacement::automatic, "auto"}, {DataPlacement::device, "device"}, {DataPlacement::host, "host"}};
};

struct TrainOptions {
  std::filesystem::path manifest;
  std::string train_split = "train";
  std::string val_split = "val";  // model selection and early stopping
  std::filesystem::path out_dir;  // the ensemble folder
  // Train on derm-augment shards of the train split instead of augmenting on
  // the fly (the manifest still gives the classes and the validation split).
  std::optional<std::filesystem::path> shards;

  // Start: a derm model file to fine-tune, or none to train from scratch. Its
  // classifier heads are kept when its classes are the manifest's (same names,
  // same order), e.g. to train a member further, unless reset_heads; otherwise
  // new heads are made for the manifest's classes.
  std::optional<std::filesystem::path> init;
  bool reset_heads = false;
  int input_size = 299;     // != backbone_size adds the learned-resizer stem
  int backbone_size = 299;
  ResizePolicy resize_policy = ResizePolicy::squash;
  // Colour constancy of every input (Shades of Gray, p = 6), recorded in the
  // members' files so that inference applies it too.
  ColorConstancy color_constancy = ColorConstancy::none;
  bool aux_logits = true;   // only when backbone_size >= 299
  double dropout = 0.5;

  int ensemble = 5;
  // Train only these members (1-based) of the ensemble, e.g. one per process or
  // machine into the same out_dir; empty: all. ensemble.json is written by the
  // run that finds every member present. Member k is the same in either case.
  std::vector<int> members;
  std::uint64_t seed = 1;
  int epochs = 30;
  int head_epochs = -1;     // epochs training only the heads first; -1: 1 with new heads on init, else 0
  int batch_size = 32;
  OptimizerKind optimizer = OptimizerKind::adamw;
  double lr = 1e-3;         // peak learning rate; SGD fine-tuning suits ~0.01
  double momentum = 0.9;    // SGD only
  double weight_decay = 0.01;
  double warmup_epochs = 1.0;
  double label_smoothing = 0.1;
  double aux_loss_weight = 0.4;
  ClassBalance balance = ClassBalance::sampler;
  int steps_per_epoch = 0;  // 0: one pass over the training split
  // Per-step decay of an exponential moving average of the weights; when > 0 the
  // average is what is validated, selected and saved. 0: the weights as trained.
  double ema_decay = 0;

  bool augment = true;
  AugmentParams augment_params;  // output_size is set to input_size

  SelectionMetric select_by = SelectionMetric::auc;
  int patience = 0;          // epochs without improvement before stopping; 0 = never
  // Wall-clock budget of the whole run in minutes (0 = none). Members share
  // what is left equally; after each epoch a member plans as many epochs (at
  // most `epochs`) as fit its share at the last epoch's pace, its cosine
  // schedule ending at the last of them, and it stops at an epoch boundary.
  // Not part of a checkpoint's identity.
  double time_limit_minutes = 0;
  int checkpoint_every = 0;  // steps between resumable checkpoints; 0 = each epoch only
  bool resume = true;        // continue from the out_dir's checkpoints when present
  std::int64_t stop_after_steps = 0;  // testing aid: exit (as if killed) after this many steps

  std::string device = "auto";
  int threads = 0;   // network threads on the CPU; 0 = library default
  int workers = 2;   // image decoding/augmentation threads
  std::int64_t cache_mb = 4096;  // decoded training images kept in memory
  DataPlacement data_placement = DataPlacement::automatic;
  std::int64_t device_cache_mb = 16384;
  bool quiet = false;
  bool bf16 = true;           // CUDA only: bf16 autocast
  bool channels_last = true;  // CUDA only
  // CUDA only: each training step's forward and backward pass replays one
  // recorded CUDA graph (derm::GraphedTrainingStep); the optimizer steps outside.
  bool cuda_graphs = false;

  // Each step's batch in this many micro-batches per process, their gradients
  // summed: the same step as that many ranks, in one process (less memory).
  int accumulate_steps = 1;
  // Several processes (WORLD_SIZE or SLURM_NTASKS > 1, derm/distributed/launch.hpp):
  Distribution distribute = Distribution::data;
  // BatchNorm's statistics over every rank's part of the batch (distribute data);
  // otherwise each micro-batch's own, as in one process with accumulate_steps.
  bool sync_batchnorm = false;
  DistBackend dist_backend = DistBackend::automatic;
  double dist_timeout_seconds = 600;  // a rank that stops for this long stops them all
};

// derm::OptionError naming the first impossible option (by its field name), or
// derm::Error for an init model or shards folder that is not there.
void validate_train_options(const TrainOptions& options);

// Everything that determines the trajectory of member `member`'s training: a
// checkpoint made under other values cannot be resumed, and a member trained
// under other values is neither skipped as done nor put in this run's ensemble.
// Not the time limit, the devices or the threads.
nlohmann::json run_identity(const TrainOptions& options, const std::string& manifest_fingerprint, int member,
                            bool data_on_device);

}  // namespace derm
