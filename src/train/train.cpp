#include "derm/train/train.hpp"

#include <algorithm>

#include <opencv2/core/utility.hpp>
#include <spdlog/spdlog.h>

#include "derm/core/error.hpp"
#include "derm/core/json_file.hpp"
#include "derm/data/manifest_fingerprint.hpp"
#include "derm/distributed/process_group.hpp"
#include "derm/model/model_io.hpp"
#include "derm/model/tensor_image.hpp"
#include "member_setup.hpp"
#include "member_trainer.hpp"

namespace derm {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A finished member's record, which must say it was trained as this run would
// train it: a member made under other options, data or seed is neither
// skipped as done nor put in this run's ensemble.
json checked_member_record(const EnsembleFolder& folder, int member, const json& identity) {
  const json record = folder.read_member_record(member);
  const json trained_as = record.value("run", json::object());
  for (const auto& [key, value] : identity.items()) {
    if (trained_as.value(key, json()) == value) continue;
    throw Error(folder.member_record(member).string() + ": member " + std::to_string(member) + " was trained with " +
                key + " " + trained_as.value(key, json()).dump() + ", this run has " + value.dump() +
                "; use another output folder, or delete the member's files to train it again");
  }
  return record;
}

// The training split as samples: the manifest's images, or derm-augment shards of them.
SampleSource training_source(const TrainOptions& o, const Manifest& manifest) {
  SampleSource source =
      o.shards ? shard_source(*o.shards, manifest, o.train_split) : manifest_source(manifest.split(o.train_split));
  if (source.labels.size() < 2) {
    throw Error(o.manifest.string() + ": split '" + o.train_split + "' has fewer than 2 images");
  }
  if (static_cast<std::size_t>(o.batch_size) > source.labels.size()) {
    throw OptionError("batch_size", std::to_string(o.batch_size) + " is more than the " +
                                        std::to_string(source.labels.size()) + " training images of split '" +
                                        o.train_split + "'");
  }
  for (std::size_t c = 0; c < manifest.classes.size(); ++c) {
    if (std::count(source.labels.begin(), source.labels.end(), static_cast<int>(c)) == 0) {
      spdlog::warn("split '{}' has no image of class '{}': the network cannot learn it", o.train_split,
                   manifest.classes[c]);
    }
  }
  return source;
}

// This process's part of a distributed run (launch.distributed()): its process
// group, on its device (its local rank's GPU on CUDA). Ranks other than 0 log
// warnings and errors alone.
std::unique_ptr<ProcessGroup> join_run(const LaunchInfo& launch, TrainOptions& o, torch::Device& device) {
  if (!launch.distributed()) return nullptr;
  if (device.is_cuda()) device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(launch.local_rank));
  const int micro_batches = launch.world_size * o.accumulate_steps;
  if (o.distribute == Distribution::data && (o.batch_size % micro_batches != 0 || o.batch_size / micro_batches < 2)) {
    throw OptionError("batch_size", std::to_string(o.batch_size) + " does not split into " +
                                        std::to_string(launch.world_size) + " ranks x {accumulate_steps} " +
                                        std::to_string(o.accumulate_steps) + " micro-batches of at least 2 images");
  }
  if (launch.rank != 0) {
    o.quiet = true;
    spdlog::set_level(spdlog::level::warn);
  }
  auto group = std::make_unique<ProcessGroup>(
      launch, o.dist_backend, device,
      std::chrono::milliseconds(static_cast<std::int64_t>(o.dist_timeout_seconds * 1000)));
  spdlog::info("{} ranks ({}, {} backend): {}", launch.world_size, launch.launcher, group->backend(),
               o.distribute == Distribution::data
                   ? "each step's batch split between them" + std::string(o.sync_batchnorm ? ", BatchNorm synchronised" : "")
                   : "member k on rank (k - 1) mod " + std::to_string(launch.world_size));
  return group;
}

}  // namespace

json train_ensemble(const TrainOptions& options) {
  validate_train_options(options);
  TrainOptions o = options;
  o.augment_params.output_size = o.input_size;
  o.augment_params.resize = o.resize_policy;
  if (o.threads > 0) torch::set_num_threads(o.threads);
  cv::setNumThreads(1);  // the data pipeline parallelises over images itself
  torch::Device device = parse_device(o.device);
  const std::unique_ptr<ProcessGroup> group = join_run(launch_info_from_environment(), o, device);
  if (device.is_cuda()) at::globalContext().setBenchmarkCuDNN(true);
  fs::create_directories(o.out_dir);

  const Manifest manifest = read_manifest(o.manifest);
  if (manifest.classes.size() < 2) {
    throw Error(o.manifest.string() + ": " + std::to_string(manifest.classes.size()) +
                " class(es); a classifier needs at least two");
  }
  std::optional<ModelMetadata> init_metadata;
  if (o.init) {
    init_metadata = read_model_metadata(*o.init);
    spdlog::info("init {}: {}", o.init->string(),
                 keeps_init_heads(o, init_metadata, manifest.classes)
                     ? "its classifier heads are kept (its classes are the manifest's; reset_heads replaces them)"
                     : "new classifier heads for the manifest's classes");
  }
  const ModelMetadata shape = member_metadata(o, manifest.classes, init_metadata);
  std::optional<Augmenter> augmenter;
  if (o.augment && !o.shards) augmenter.emplace(o.augment_params);
  const TrainingBatches train = training_batches(o, training_source(o, manifest), augmenter ? &*augmenter : nullptr,
                                                 shape.preprocessing, device);
  std::optional<TrainingSet> val;
  if (o.val_split == o.train_split) {
    spdlog::warn("validation split '{}' is the training split: the best epoch is chosen on images the network "
                 "trained on",
                 o.val_split);
  }
  if (!o.val_split.empty()) {
    val.emplace(manifest_source(manifest.split(o.val_split)), shape.preprocessing, nullptr, o.cache_mb, o.workers,
                o.quiet);
  }

  TrainingRun run{o, manifest, manifest_fingerprint(manifest), device, train, val ? &*val : nullptr,
                  init_metadata, EnsembleFolder(o.out_dir), 0, std::nullopt,
                  o.distribute == Distribution::data ? group.get() : nullptr};
  const EnsembleFolder& folder = run.folder;
  spdlog::info("training {} member(s) on {} images ({} classes) on {}, input {}x{}{}, augmentation {}", o.ensemble,
               train.labels.size(), manifest.classes.size(), device.str(), o.input_size, o.input_size,
               o.input_size != o.backbone_size ? " with the learned-resizer stem" : "",
               !augmenter ? "off" : train.on_device ? "on the device" : "on the host");
  std::optional<Clock::time_point> run_deadline;
  if (o.time_limit_minutes > 0) {
    run_deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(o.time_limit_minutes * 60.0));
  }
  const auto chosen = [&](int member) {
    return o.members.empty() || std::find(o.members.begin(), o.members.end(), member) != o.members.end();
  };
  // This process's members: with distribute members, every size-th of them.
  const auto selected = [&](int member) {
    const bool here = !group || o.distribute == Distribution::data || (member - 1) % group->size() == group->rank();
    return chosen(member) && here;
  };
  const auto identity = [&](int member) { return run_identity(o, run.manifest_fingerprint, member, train.on_device); };
  // The members already in the folder that this run keeps, checked before any work.
  for (int member = 1; member <= o.ensemble; ++member) {
    if (folder.member_trained(member) && (o.resume || !chosen(member))) {
      checked_member_record(folder, member, identity(member));
    }
  }
  for (int member = 1; member <= o.ensemble; ++member) {
    if (!selected(member)) continue;
    if (o.resume && folder.member_trained(member)) {
      spdlog::info("member {}: already trained, skipping", member);
      continue;
    }
    if (run_deadline) {
      int left = 0;
      for (int m = member; m <= o.ensemble; ++m) left += selected(m) && !(o.resume && folder.member_trained(m));
      const auto now = Clock::now();
      run.member_deadline = now + (*run_deadline - now) / left;
    }
    try {
      train_member(run, member);
    } catch (const DistributedError& e) {
      throw DistributedError(std::string(e.what()) + "; the last checkpoint is intact: the same launch again resumes");
    }
  }
  if (group) {
    // Rank 0 writes the ensemble's files once every rank's members are done.
    group->arrive("training");
    if (group->rank() != 0) return json();
    group->wait_for_all("training");
  }
  // Looked at only now, after this run's members are written: of processes
  // training members in parallel, the last to get here sees them all.
  json members = json::array();
  for (int member = 1; member <= o.ensemble; ++member) {
    if (folder.member_trained(member)) members.push_back(checked_member_record(folder, member, identity(member)));
  }
  if (static_cast<int>(members.size()) == o.ensemble) {
    folder.write_listing(o.ensemble, manifest.classes);
  } else {
    spdlog::info("{} of {} members present; {} is written by the run that completes the ensemble", members.size(),
                 o.ensemble, folder.listing().filename().string());
  }
  json summary{{"ensemble", fs::absolute(o.out_dir).string()},
               {"classes", manifest.classes},
               {"train_images", train.labels.size()},
               {"augmentation", !augmenter ? "off" : train.on_device ? "device" : "host"},
               {"val_images", val ? val->size() : 0},
               {"device", device.str()},
               {"members", members}};
  write_json_file(folder.summary(), summary);
  return summary;
}

}  // namespace derm
