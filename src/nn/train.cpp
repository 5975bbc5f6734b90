#include "derm/train.hpp"

#include <chrono>
#include <cmath>
#include <fstream>
#include <future>

#include <opencv2/core/utility.hpp>
#include <spdlog/spdlog.h>

#include "checkpoint.hpp"
#include "derm/atomic_file.hpp"
#include "derm/autocast.hpp"
#include "derm/classifier.hpp"
#include "derm/ensemble.hpp"
#include "derm/error.hpp"
#include "derm/manifest.hpp"
#include "derm/metrics.hpp"
#include "derm/model_io.hpp"
#include "derm/progress.hpp"
#include "derm/shard_samples.hpp"
#include "derm/shards.hpp"
#include "derm/parallel.hpp"
#include "derm/tensor_augment.hpp"
#include "derm/tensor_image.hpp"
#include "graphed_training_step.hpp"
#include "multi_tensor_adamw.hpp"
#include "training_loss.hpp"
#include "training_set.hpp"
#include "weight_average.hpp"

namespace derm {
namespace fs = std::filesystem;
using nlohmann::json;

OptimizerKind parse_optimizer(const std::string& name) {
  if (name == "sgd") return OptimizerKind::sgd;
  if (name == "adamw") return OptimizerKind::adamw;
  throw OptionError("--optimizer '" + name + "': expected sgd or adamw");
}

ClassBalance parse_class_balance(const std::string& name) {
  if (name == "none") return ClassBalance::none;
  if (name == "sampler") return ClassBalance::sampler;
  if (name == "loss") return ClassBalance::loss;
  throw OptionError("--balance '" + name + "': expected none, sampler or loss");
}

SelectionMetric parse_selection_metric(const std::string& name) {
  if (name == "auc") return SelectionMetric::auc;
  if (name == "loss") return SelectionMetric::loss;
  throw OptionError("--select-by '" + name + "': expected auc or loss");
}

DataPlacement parse_data_placement(const std::string& name) {
  if (name == "auto") return DataPlacement::automatic;
  if (name == "device") return DataPlacement::device;
  if (name == "host") return DataPlacement::host;
  throw OptionError("--data-on '" + name + "': expected auto, device or host");
}

namespace {

const char* name_of(OptimizerKind k) { return k == OptimizerKind::sgd ? "sgd" : "adamw"; }
const char* name_of(ClassBalance b) {
  return b == ClassBalance::none ? "none" : b == ClassBalance::sampler ? "sampler" : "loss";
}
const char* name_of(SelectionMetric m) { return m == SelectionMetric::auc ? "auc" : "loss"; }

void validate(const TrainOptions& o) {
  const auto require = [](bool ok, const std::string& message) {
    if (!ok) throw OptionError(message);
  };
  require(!o.manifest.empty(), "--manifest is required");
  require(!o.out_dir.empty(), "--out is required");
  require(o.ensemble >= 1 && o.ensemble <= 100, "--ensemble must be between 1 and 100");
  for (int m : o.members) {
    require(m >= 1 && m <= o.ensemble, "--members: " + std::to_string(m) + " is not in 1..--ensemble");
  }
  require(o.epochs >= 1, "--epochs must be at least 1");
  require(o.head_epochs < o.epochs, "--head-epochs must be fewer than --epochs");
  require(o.batch_size >= 2, "--batch-size must be at least 2 (BatchNorm needs two images)");
  require(o.lr > 0 && std::isfinite(o.lr), "--lr must be positive");
  require(o.momentum >= 0 && o.momentum < 1, "--momentum must be in [0, 1)");
  require(o.weight_decay >= 0, "--weight-decay must be non-negative");
  require(o.warmup_epochs >= 0, "--warmup-epochs must be non-negative");
  require(o.label_smoothing >= 0 && o.label_smoothing < 1, "--label-smoothing must be in [0, 1)");
  require(o.dropout >= 0 && o.dropout < 1, "--dropout must be in [0, 1)");
  require(o.backbone_size >= 75, "--backbone-size must be at least 75 (Inception v3's minimum)");
  require(o.input_size >= 32, "--input-size must be at least 32");
  require(std::max(o.input_size, o.backbone_size) <= kMaxInputSize,
          "--input-size and --backbone-size must be at most " + std::to_string(kMaxInputSize));
  require(o.head_epochs >= -1, "--head-epochs must be -1 (automatic) or more");
  require(o.aux_loss_weight >= 0, "--aux-weight must be non-negative");
  require(o.steps_per_epoch >= 0, "--steps-per-epoch must be non-negative");
  require(o.ema_decay >= 0 && o.ema_decay < 1, "--ema-decay must be in [0, 1)");
  require(o.patience >= 0, "--patience must be non-negative");
  require(o.time_limit_minutes >= 0 && std::isfinite(o.time_limit_minutes), "--time-limit must be non-negative");
  require(o.checkpoint_every >= 0, "--checkpoint-every must be non-negative");
  require(o.workers >= 1, "--workers must be at least 1");
  require(o.threads >= 0, "--threads must be non-negative");
  require(o.cache_mb >= 0, "--cache-mb must be non-negative");
  require(o.device_cache_mb >= 0, "--device-cache-mb must be non-negative");
  if (o.init && !fs::is_regular_file(*o.init)) throw Error(o.init->string() + ": no such model file (--init)");
  require(!o.reset_heads || o.init, "--reset-heads needs --init");
  if (o.shards && !fs::is_directory(*o.shards)) throw Error(o.shards->string() + ": no such folder (--shards)");
}

// Everything that determines the trajectory of training: a checkpoint made
// under other values cannot be resumed.
json run_identity(const TrainOptions& o, const std::string& manifest_digest, int member, bool data_on_device) {
  json identity{{"manifest", manifest_digest},
                {"train_split", o.train_split},
                {"val_split", o.val_split},
                {"init", o.init ? o.init->string() : ""},
                {"reset_heads", o.reset_heads},
                {"input_size", o.input_size},
                {"backbone_size", o.backbone_size},
                {"resize_policy", to_string(o.resize_policy)},
                {"aux_logits", o.aux_logits},
                {"dropout", o.dropout},
                {"seed", o.seed},
                {"member", member},
                {"epochs", o.epochs},
                {"head_epochs", o.head_epochs},
                {"batch_size", o.batch_size},
                {"optimizer", name_of(o.optimizer)},
                {"lr", o.lr},
                {"momentum", o.momentum},
                {"weight_decay", o.weight_decay},
                {"warmup_epochs", o.warmup_epochs},
                {"label_smoothing", o.label_smoothing},
                {"aux_loss_weight", o.aux_loss_weight},
                {"balance", name_of(o.balance)},
                {"steps_per_epoch", o.steps_per_epoch},
                {"augment", o.augment && !o.shards ? to_json(o.augment_params) : json(nullptr)},
                {"shards", o.shards ? o.shards->string() : ""},
                {"data_on_device", data_on_device},
                {"select_by", name_of(o.select_by)},
                {"patience", o.patience}};
  // Only when set: members and checkpoints made before the option existed stay valid.
  if (o.ema_decay > 0) identity["ema_decay"] = o.ema_decay;
  return identity;
}

std::string manifest_digest(const Manifest& manifest) {
  // Order-sensitive FNV-1a over the rows that matter for training.
  std::uint64_t h = 1469598103934665603ull;
  const auto mix = [&](const std::string& s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xFF) * 1099511628211ull;
  };
  for (const auto& e : manifest.entries) {
    mix(e.id);
    mix(e.label);
    mix(e.split);
    mix(e.content_hash);
  }
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(h));
  return text;
}

ModelMetadata member_metadata(const TrainOptions& o, const std::vector<std::string>& classes,
                              const std::optional<ModelMetadata>& init) {
  ModelMetadata m;
  m.architecture.num_classes = static_cast<int>(classes.size());
  m.architecture.aux_logits = o.aux_logits && o.backbone_size >= 299;
  m.architecture.transform_input = init ? init->architecture.transform_input : false;
  m.architecture.dropout = o.dropout;
  m.architecture.input_size = o.input_size;
  m.architecture.backbone_size = o.backbone_size;
  m.classes = classes;
  m.preprocessing.input_size = o.input_size;
  m.preprocessing.resize_policy = o.resize_policy;
  if (init) {
    m.preprocessing.mean = init->preprocessing.mean;
    m.preprocessing.std = init->preprocessing.std;
  }
  return m;
}

// torchvision's initialisation (truncated normal, std 0.1) suits its parity
// tests, not training: activations grow by orders of magnitude from layer to
// layer, so the BatchNorm running statistics are far off for many steps.
// From scratch the convolutions get He initialisation; new heads start small
// either way, so that the first losses are near log(classes).
void initialise_for_training(InceptionV3& net, bool from_scratch) {
  torch::NoGradGuard no_grad;
  if (from_scratch) {
    for (auto& named : net->named_modules("", /*include_self=*/false)) {
      if (named.key().rfind("stem", 0) == 0) continue;
      if (auto* conv = named.value()->as<torch::nn::Conv2d>()) {
        torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanIn, torch::kReLU);
      }
    }
  }
  std::vector<torch::nn::Linear> heads{net->fc};
  if (net->AuxLogits) heads.push_back(net->AuxLogits->fc);
  for (auto& head : heads) {
    head->weight.normal_(0.0, 0.01);
    head->bias.zero_();
  }
}

// Whether --init's classifier heads go on training: it has the manifest's classes.
bool keeps_init_heads(const TrainOptions& o, const std::optional<ModelMetadata>& init,
                      const std::vector<std::string>& classes) {
  return init && !o.reset_heads && init->classes == classes;
}

Model initial_model(const TrainOptions& o, const ModelMetadata& metadata, bool keep_init_heads) {
  Model model = create_model(metadata);
  initialise_for_training(model.network, !o.init);
  if (o.init) {
    const SafetensorsContent content = read_safetensors(*o.init);
    StrictLoadOptions transfer;
    transfer.skip_classifier = !keep_init_heads;
    transfer.optional_prefixes = {"stem."};
    if (!metadata.architecture.aux_logits) {
      // The source's auxiliary classifier has no counterpart here.
      std::map<std::string, torch::Tensor> tensors;
      for (const auto& [name, t] : content.tensors) {
        if (name.rfind("AuxLogits.", 0) != 0) tensors.emplace(name, t);
      }
      load_state_dict_strict(*model.network, tensors, transfer, o.init->string());
    } else {
      transfer.optional_prefixes.push_back("AuxLogits.");
      load_state_dict_strict(*model.network, content.tensors, transfer, o.init->string());
    }
  }
  return model;
}

// Only the classifier heads learn in the head-only stage.
void set_trainable(InceptionV3& net, bool heads_only) {
  const auto heads = net->head_parameters();
  for (auto& p : net->parameters()) {
    const bool is_head = std::any_of(heads.begin(), heads.end(), [&](const torch::Tensor& h) { return h.is_same(p); });
    p.set_requires_grad(!heads_only || is_head);
  }
}

// Head-only stage: the backbone's BatchNorm statistics stay as loaded.
void set_training_mode(InceptionV3& net, bool heads_only) {
  net->train();
  if (!heads_only) return;
  for (auto& module : net->modules(/*include_self=*/false)) {
    if (module->as<torch::nn::BatchNorm2d>()) module->eval();
  }
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainOptions& o, InceptionV3& net) {
  auto params = net->parameters();
  if (o.optimizer == OptimizerKind::sgd) {
    return std::make_unique<torch::optim::SGD>(
        params, torch::optim::SGDOptions(o.lr).momentum(o.momentum).nesterov(o.momentum > 0).weight_decay(o.weight_decay));
  }
  return std::make_unique<MultiTensorAdamW>(params, torch::optim::AdamWOptions(o.lr).weight_decay(o.weight_decay));
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

// Linear warm-up, then cosine decay to zero at the last step.
double learning_rate(double peak, std::int64_t step, std::int64_t warmup_steps, std::int64_t total_steps) {
  if (step < warmup_steps) return peak * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  const double progress = static_cast<double>(step - warmup_steps) / std::max<std::int64_t>(1, total_steps - warmup_steps);
  return 0.5 * peak * (1.0 + std::cos(M_PI * std::min(1.0, progress)));
}

struct Validation {
  double loss = 0;
  double accuracy = 0;
  std::map<std::string, double> auc;  // positive classes with both labels present
  double mean_auc = std::numeric_limits<double>::quiet_NaN();
};

Validation validate_member(InceptionV3& net, const TrainingSet& val, const ModelMetadata& metadata,
                           const torch::Device& device, int batch_size, bool autocast) {
  torch::NoGradGuard no_grad;
  net->eval();
  Predictions predictions;
  predictions.classes = metadata.classes;
  predictions.member_probabilities.assign(1, {});
  double loss_sum = 0;
  for (std::size_t start = 0; start < val.size(); start += static_cast<std::size_t>(batch_size)) {
    std::vector<std::size_t> indices;
    for (std::size_t i = start; i < std::min(val.size(), start + batch_size); ++i) indices.push_back(i);
    const auto x = normalize_batch(val.batch(indices, {}).to(device), metadata.preprocessing);
    torch::Tensor logits;
    {
      Bf16Autocast cast(autocast, device);
      logits = net->forward(x).to(torch::kFloat32);
    }
    std::vector<int64_t> y;
    for (auto i : indices) y.push_back(val.labels()[i]);
    const auto target = torch::tensor(y, torch::kInt64).to(device);
    loss_sum += torch::nn::functional::cross_entropy(logits, target, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum)).item<double>();
    const auto p = torch::softmax(logits, 1).cpu().contiguous();
    for (int64_t i = 0; i < p.size(0); ++i) {
      const float* row = p[i].data_ptr<float>();
      predictions.member_probabilities[0].emplace_back(row, row + p.size(1));
      predictions.ids.push_back(std::to_string(indices[static_cast<std::size_t>(i)]));
    }
  }
  Validation v;
  v.loss = loss_sum / static_cast<double>(val.size());
  v.accuracy = multiclass_accuracy(val.labels(), predicted_classes(predictions, DecisionRule::mean_probability));
  double sum = 0;
  int count = 0;
  const auto positives = default_positive_classes(metadata.classes);
  for (const auto& name : positives) {
    const int c = static_cast<int>(std::find(metadata.classes.begin(), metadata.classes.end(), name) - metadata.classes.begin());
    std::vector<bool> is_positive;
    for (int label : val.labels()) is_positive.push_back(label == c);
    if (std::count(is_positive.begin(), is_positive.end(), true) == 0 ||
        std::count(is_positive.begin(), is_positive.end(), false) == 0) {
      continue;
    }
    const double auc = auc_roc(one_vs_rest_scores(predictions, DecisionRule::mean_probability, c), is_positive);
    v.auc[name] = auc;
    sum += auc;
    ++count;
  }
  if (count == static_cast<int>(positives.size()) && count > 0) v.mean_auc = sum / count;
  return v;
}

// The samples of a derm-augment run made from this manifest's training split.
SampleSource shard_source(const fs::path& dir, const Manifest& manifest, const std::string& split) {
  auto shards = std::make_shared<ShardSamples>(dir);
  if (shards->classes() != manifest.classes) throw Error(dir.string() + ": the shards' classes differ from the manifest's");
  if (shards->run().value("split", "") != split ||
      shards->run().value("manifest_hash", "") != manifest_split_hash(manifest, split)) {
    throw Error(dir.string() + ": the shards were made from another manifest or split than '" + split + "'");
  }
  SampleSource source;
  source.labels = shards->labels();
  const int side = shards->run().value("params", json::object()).value("output_size", 700);
  source.decoded_bytes = static_cast<std::int64_t>(shards->size()) * side * side * 3;
  source.load = [shards](std::size_t i) { return shards->read(i); };
  return source;
}

fs::path member_file(const fs::path& dir, int member) { return dir / ("member-" + std::to_string(member) + ".safetensors"); }
fs::path member_record(const fs::path& dir, int member) { return dir / ("member-" + std::to_string(member) + ".json"); }

// A finished member's record, which must say it was trained as this run would
// train it: a member made under other options, data or seed is neither
// skipped as done nor put in this run's ensemble.
json read_member_record(const fs::path& dir, int member, const json& identity) {
  const fs::path path = member_record(dir, member);
  json record;
  try {
    record = json::parse(read_file(path));
  } catch (const json::exception& e) {
    throw Error(path.string() + ": not a member record (" + e.what() + ")");
  }
  const json trained_as = record.value("run", json::object());
  for (const auto& [key, value] : identity.items()) {
    if (trained_as.value(key, json()) == value) continue;
    throw Error(path.string() + ": member " + std::to_string(member) + " was trained with " + key + " " +
                trained_as.value(key, json()).dump() + ", this run has " + value.dump() +
                "; use another --out, or delete the member's files to train it again");
  }
  return record;
}
fs::path member_checkpoint(const fs::path& dir, int member) { return dir / ("member-" + std::to_string(member) + ".checkpoint"); }

// The training images as batches on the training device.
struct TrainingBatches {
  std::vector<int> labels;
  bool on_device = false;
  // uint8 N x 3 x S x S on the device: images indices[k], augmented with seeds[k].
  std::function<torch::Tensor(const std::vector<std::size_t>&, const std::vector<std::uint64_t>&)> make;
};

TrainingBatches host_batches(std::shared_ptr<TrainingSet> set, const torch::Device& device) {
  TrainingBatches batches;
  batches.labels = set->labels();
  batches.make = [set, device](const std::vector<std::size_t>& indices, const std::vector<std::uint64_t>& seeds) {
    return set->batch(indices, seeds).to(device);
  };
  return batches;
}

// Every image decoded once, made square by the resize policy at the side the
// augmentation needs (no larger than the largest source), and held on the device.
TrainingBatches device_batches(const SampleSource& source, const Augmenter& augmenter, ResizePolicy policy,
                               const torch::Device& device, int workers, bool quiet) {
  std::vector<cv::Mat> decoded(source.labels.size());
  Progress progress("decoding to " + device.str(), static_cast<std::int64_t>(decoded.size()), quiet);
  parallel_for(decoded.size(), workers, [&](std::size_t i) {
    decoded[i] = source.load(i);
    progress.advance();
  });
  progress.finish();
  int side = 1;
  for (const auto& image : decoded) side = std::max({side, image.cols, image.rows});
  side = std::min(side, augmenter.working_side());
  auto images = torch::empty({static_cast<int64_t>(decoded.size()), 3, side, side}, torch::kUInt8);
  parallel_for(decoded.size(), workers, [&](std::size_t i) {
    images[static_cast<int64_t>(i)].copy_(to_chw_uint8(resize_to_square(decoded[i], side, policy)));
    decoded[i].release();
  });
  TrainingBatches batches;
  batches.labels = source.labels;
  batches.on_device = true;
  auto resident = images.to(device);
  auto augment = std::make_shared<TensorAugmenter>(augmenter);
  batches.make = [resident, augment](const std::vector<std::size_t>& indices, const std::vector<std::uint64_t>& seeds) {
    std::vector<int64_t> rows(indices.begin(), indices.end());
    const auto selected = resident.index_select(0, torch::tensor(rows, torch::kInt64).to(resident.device()));
    return augment->apply(selected, seeds);
  };
  return batches;
}

using Clock = std::chrono::steady_clock;

// The number of epochs to plan for, at most `most`: those done and as many more
// as end by the deadline at the pace of the last one (validation included).
int epochs_that_fit(int most, int done, Clock::duration last_epoch, Clock::time_point now, Clock::time_point deadline) {
  const double per_epoch = std::max(1e-3, std::chrono::duration<double>(last_epoch).count());
  const double left = std::chrono::duration<double>(deadline - now).count();
  const int more = left <= 0 ? 0 : static_cast<int>(std::floor(left / per_epoch));
  return std::min(most, done + more);
}

struct RunContext {
  const TrainOptions& options;
  const Manifest& manifest;
  std::string digest;
  torch::Device device;
  const TrainingBatches& train;
  const TrainingSet* val;
  std::optional<ModelMetadata> init_metadata;
  std::int64_t steps_this_process = 0;
  std::optional<Clock::time_point> member_deadline;  // --time-limit: this member's share ends here
};

// Trains one member and writes its model file and record (member-K.json).
void train_member(RunContext& run, int member) {
  const TrainOptions& o = run.options;
  const json identity = run_identity(o, run.digest, member, run.train.on_device);
  const std::uint64_t member_seed = derive_seed(o.seed, static_cast<std::uint64_t>(member), 0);
  torch::manual_seed(member_seed);

  ModelMetadata metadata = member_metadata(o, run.manifest.classes, run.init_metadata);
  const bool keep_init_heads = keeps_init_heads(o, run.init_metadata, run.manifest.classes);
  Model model = initial_model(o, metadata, keep_init_heads);
  InceptionV3& net = model.network;
  net->to(run.device);
  const bool cuda = run.device.is_cuda();
  if (cuda && o.channels_last) {
    for (auto& p : net->parameters()) {
      if (p.dim() == 4) p.set_data(p.data().contiguous(torch::MemoryFormat::ChannelsLast));
    }
  }
  auto optimizer = make_optimizer(o, net);
  std::unique_ptr<WeightAverage> average;  // null without --ema-decay
  if (o.ema_decay > 0) average = std::make_unique<WeightAverage>(*net, o.ema_decay);
  // What is validated, selected and saved: the average when there is one.
  const auto with_selected_weights = [&](const std::function<void()>& use) {
    if (average) {
      average->with_average_in(use);
    } else {
      use();
    }
  };

  const int head_epochs = o.head_epochs >= 0 ? o.head_epochs : (o.init && !keep_init_heads ? 1 : 0);
  const std::int64_t samples_per_epoch =
      o.steps_per_epoch > 0 ? std::int64_t{o.steps_per_epoch} * o.batch_size
                            : std::max<std::int64_t>(o.batch_size, static_cast<std::int64_t>(run.train.labels.size()));
  const std::int64_t steps_per_epoch = samples_per_epoch / o.batch_size;
  const auto warmup_steps = static_cast<std::int64_t>(std::llround(o.warmup_epochs * steps_per_epoch));

  TrainingState state;
  state.planned_epochs = o.epochs;
  const fs::path checkpoint = member_checkpoint(o.out_dir, member);
  // This process alone writes this member's files (--members splits them).
  for (const auto& file : {checkpoint, member_file(o.out_dir, member), member_record(o.out_dir, member)}) {
    remove_stale_temporaries(file);
  }
  if (o.resume && load_checkpoint(checkpoint, *net, *optimizer, average.get(), &state, identity, run.device)) {
    spdlog::info("member {}: resuming at epoch {}, step {}", member, state.epoch + 1, state.step_in_epoch);
  }

  // Class weights: inverse frequency, mean 1 over the training images.
  torch::Tensor class_weights;
  if (o.balance == ClassBalance::loss) {
    std::vector<double> counts(metadata.classes.size(), 0.0);
    for (int label : run.train.labels) counts[static_cast<std::size_t>(label)] += 1;
    std::vector<float> w;
    for (double c : counts) w.push_back(c > 0 ? static_cast<float>(run.train.labels.size() / (counts.size() * c)) : 0.0f);
    class_weights = torch::tensor(w).to(run.device);
  }
  // A batch's loss, backward included: what a training step computes before the optimizer.
  const auto loss_of_batch = [&](const torch::Tensor& x, const torch::Tensor& y) {
    torch::Tensor loss;
    {
      Bf16Autocast cast(cuda && o.bf16, run.device);
      const auto out = net->forward_with_aux(x);
      loss = mean_cross_entropy(out.logits.to(torch::kFloat32), y, o.label_smoothing, class_weights);
      if (out.aux_logits.defined() && o.aux_loss_weight > 0) {
        loss = loss + o.aux_loss_weight *
                          mean_cross_entropy(out.aux_logits.to(torch::kFloat32), y, o.label_smoothing, class_weights);
      }
    }
    loss.backward();
    return loss.detach();
  };
  // Made again when the stage changes (what is trained and BatchNorm's mode).
  std::unique_ptr<GraphedTrainingStep> gradients_of;
  bool gradients_of_heads_only = false;

  std::ofstream log(o.out_dir / "train-log.jsonl", std::ios::app);
  std::size_t stem_resize_choices_seen = 0;
  const int first_epoch_here = state.epoch;
  for (int epoch = state.epoch; epoch < state.planned_epochs && !state.stopped_early; ++epoch) {
    const std::int64_t total_steps = steps_per_epoch * state.planned_epochs;
    const bool heads_only = epoch < head_epochs;
    set_trainable(net, heads_only);
    if (!gradients_of || gradients_of_heads_only != heads_only) {
      gradients_of = std::make_unique<GraphedTrainingStep>(loss_of_batch, net->parameters(), cuda && o.cuda_graphs);
      gradients_of_heads_only = heads_only;
    }
    const auto order = epoch_order(run.train.labels, static_cast<int>(metadata.classes.size()),
                                   o.balance == ClassBalance::sampler, static_cast<std::size_t>(samples_per_epoch),
                                   derive_seed(member_seed, static_cast<std::uint64_t>(epoch), 1));
    Progress progress("member " + std::to_string(member) + " epoch " + std::to_string(epoch + 1) + "/" +
                          std::to_string(state.planned_epochs),
                      steps_per_epoch * o.batch_size, o.quiet);
    progress.advance(std::int64_t{state.step_in_epoch} * o.batch_size);
    const auto epoch_start = Clock::now();
    const int steps_before = state.step_in_epoch;
    // Losses are summed on the device and read back only every few steps (a
    // read waits for the GPU); the read points depend on the step alone, so a
    // resumed run adds the same partial sums in the same order.
    constexpr std::int64_t kLossReadEvery = 16;
    auto pending_loss = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(run.device));
    int pending_count = 0;
    const auto read_losses = [&] {
      if (pending_count == 0) return;
      const double sum = pending_loss.item<double>();
      if (!std::isfinite(sum)) {
        throw Error("member " + std::to_string(member) + ": training diverged (loss " + std::to_string(sum) +
                    " before step " + std::to_string(state.global_step) + "); lower --lr");
      }
      state.epoch_loss_sum += sum;
      state.epoch_loss_count += pending_count;
      pending_loss.zero_();
      pending_count = 0;
      char note[64];
      std::snprintf(note, sizeof note, "loss %.4f", state.epoch_loss_sum / state.epoch_loss_count);
      progress.set_note(note);
    };
    // Step k's images and labels; a function of (epoch, k) alone.
    const auto load_step = [&, epoch](std::int64_t step) {
      std::vector<std::size_t> indices(order.begin() + step * o.batch_size, order.begin() + (step + 1) * o.batch_size);
      std::vector<std::uint64_t> seeds;
      std::vector<int64_t> labels;
      for (std::size_t k = 0; k < indices.size(); ++k) {
        seeds.push_back(derive_seed(member_seed, static_cast<std::uint64_t>(epoch) + 1,
                                    static_cast<std::uint64_t>(step * o.batch_size) + k));
        labels.push_back(run.train.labels[indices[k]]);
      }
      return std::make_pair(run.train.make(indices, seeds), torch::tensor(labels, torch::kInt64).to(run.device));
    };
    // Host-side images are prepared one step ahead, while the network works.
    // (Device-side augmentation stays in this thread: it shares torch's random
    // generator with dropout.)
    std::future<std::pair<torch::Tensor, torch::Tensor>> next_step;
    const auto prefetch = [&](std::int64_t step) {
      if (!run.train.on_device && step < steps_per_epoch) next_step = std::async(std::launch::async, load_step, step);
    };
    prefetch(state.step_in_epoch);
    for (std::int64_t step = state.step_in_epoch; step < steps_per_epoch; ++step) {
      set_training_mode(net, heads_only);
      auto [images, y] = next_step.valid() ? next_step.get() : load_step(step);
      prefetch(step + 1);
      const auto x = normalize_batch(images, metadata.preprocessing,
                                     cuda && o.channels_last ? torch::MemoryFormat::ChannelsLast
                                                             : torch::MemoryFormat::Contiguous);
      // Dropout masks from the step alone, so that a resumed run draws the same ones.
      torch::manual_seed(derive_seed(member_seed, static_cast<std::uint64_t>(state.global_step), 2));
      set_learning_rate(*optimizer, learning_rate(o.lr, state.global_step, warmup_steps, total_steps));

      const torch::Tensor loss = (*gradients_of)(x, y);
      optimizer->step();
      pending_loss += loss.to(torch::kFloat64);
      ++pending_count;
      ++state.global_step;
      if (average) average->update(state.global_step);
      state.step_in_epoch = static_cast<int>(step + 1);
      ++run.steps_this_process;
      progress.advance(o.batch_size);
      const bool checkpoint_now =
          o.checkpoint_every > 0 && state.global_step % o.checkpoint_every == 0 && step + 1 < steps_per_epoch;
      if (state.global_step % kLossReadEvery == 0 || checkpoint_now) read_losses();
      if (checkpoint_now) save_checkpoint(checkpoint, *net, *optimizer, average.get(), state, identity);
      if (o.stop_after_steps > 0 && run.steps_this_process >= o.stop_after_steps) {
        throw TrainingInterrupted("stopped after " + std::to_string(run.steps_this_process) + " steps (--stop-after-steps)");
      }
    }
    read_losses();
    progress.finish();
    const double seconds = std::chrono::duration<double>(Clock::now() - epoch_start).count();

    json record{{"member", member},
                {"epoch", epoch + 1},
                {"stage", heads_only ? "heads" : "all"},
                {"train_loss", state.epoch_loss_count ? json(state.epoch_loss_sum / state.epoch_loss_count) : json(nullptr)},
                {"planned_epochs", state.planned_epochs},
                {"lr", learning_rate(o.lr, std::max<std::int64_t>(0, state.global_step - 1), warmup_steps, total_steps)},
                {"images_per_second", (state.step_in_epoch - steps_before) * o.batch_size / seconds},
                {"seconds", seconds},
                {"cuda_graphs", gradients_of->replaying()}};
    double metric = std::numeric_limits<double>::quiet_NaN();
    if (run.val) {
      const auto validate_now = [&] {
        return validate_member(net, *run.val, metadata, run.device, o.batch_size, cuda && o.bf16);
      };
      std::optional<Validation> live;
      if (average) {
        // The weights as trained, for comparison with their average.
        live = validate_now();
        record["val_loss_live"] = live->loss;
        record["val_mean_auc_live"] = std::isnan(live->mean_auc) ? json(nullptr) : json(live->mean_auc);
      }
      Validation v;
      with_selected_weights([&] { v = validate_now(); });
      record["val_loss"] = v.loss;
      record["val_accuracy"] = v.accuracy;
      record["val_auc"] = v.auc;
      record["val_mean_auc"] = std::isnan(v.mean_auc) ? json(nullptr) : json(v.mean_auc);
      metric = (o.select_by == SelectionMetric::auc && !std::isnan(v.mean_auc)) ? v.mean_auc : -v.loss;
      if (!o.quiet) {
        const auto auc_text = [](double auc) { return std::isnan(auc) ? std::string("n/a") : std::to_string(auc); };
        spdlog::info("member {} epoch {}: train loss {:.4f}, val loss {:.4f}, val accuracy {:.3f}, val mean AUC {}{}",
                     member, epoch + 1, state.epoch_loss_count ? state.epoch_loss_sum / state.epoch_loss_count : 0.0,
                     v.loss, v.accuracy, auc_text(v.mean_auc),
                     live ? " (weight average; as trained " + auc_text(live->mean_auc) + ")" : std::string());
      }
    } else {
      metric = static_cast<double>(epoch);  // no validation: the last epoch is the best
    }
    if (net->stem) {
      // The stem's resize timings made in this epoch (derm/antialiased_resize.hpp).
      const auto choices = net->stem->resizer().choices();
      json made = json::array();
      for (std::size_t i = stem_resize_choices_seen; i < choices.size(); ++i) {
        made.push_back(describe(choices[i]));
        spdlog::info("member {}: stem resize for {}", member, made.back().get<std::string>());
      }
      stem_resize_choices_seen = choices.size();
      if (!made.empty()) record["stem_resize"] = made;
    }
    const bool improved = std::isnan(state.best_metric) || metric > state.best_metric;
    if (improved) {
      state.best_metric = metric;
      state.best_epoch = epoch + 1;
      state.stale_epochs = 0;
      model.metadata.provenance = {{"trained", true},
                                   {"tool", "derm-train 0.1.0"},
                                   {"manifest", fs::absolute(o.manifest).string()},
                                   {"manifest_digest", run.digest},
                                   {"member", member},
                                   {"seed", member_seed},
                                   {"epoch", epoch + 1},
                                   {"init", o.init ? o.init->string() : "scratch"},
                                   {"init_heads", !o.init ? json(nullptr) : keep_init_heads ? "kept" : "new"},
                                   {"weight_average_decay", average ? json(o.ema_decay) : json(nullptr)},
                                   {"validation", record}};
      with_selected_weights([&] { save_model(member_file(o.out_dir, member), model); });
    } else {
      ++state.stale_epochs;
    }
    record["best"] = improved;
    state.history.push_back(record);
    log << record.dump() << "\n" << std::flush;
    state.epoch = epoch + 1;
    state.step_in_epoch = 0;
    state.epoch_loss_sum = 0;
    state.epoch_loss_count = 0;
    if (o.patience > 0 && state.stale_epochs >= o.patience) {
      state.stopped_early = true;
      spdlog::info("member {}: no improvement for {} epochs, stopping early", member, o.patience);
    }
    if (run.member_deadline) {
      const auto now = Clock::now();
      const int fit = epochs_that_fit(o.epochs, state.epoch, now - epoch_start, now, *run.member_deadline);
      // A process's first epoch is slow (cuDNN autotuning, cold caches): it
      // only decides when not even one more epoch of its length fits.
      const bool first_here = epoch == first_epoch_here;
      if (fit != state.planned_epochs && !(first_here && fit > state.epoch)) {
        spdlog::info("member {}: --time-limit leaves time for {} of {} epochs; the schedule now ends there", member,
                     fit, o.epochs);
        state.planned_epochs = fit;
      }
    }
    if (state.epoch < state.planned_epochs && !state.stopped_early) {
      save_checkpoint(checkpoint, *net, *optimizer, average.get(), state, identity);
    }
  }

  json result{{"member", member},
              {"file", member_file(o.out_dir, member).filename().string()},
              {"run", identity},
              {"best_epoch", state.best_epoch},
              {"epochs_run", state.epoch},
              {"planned_epochs", state.planned_epochs},
              {"stopped_early", state.stopped_early},
              {"time_limited", state.planned_epochs < o.epochs},
              {"history", state.history}};
  write_file_atomically(member_record(o.out_dir, member), [&](std::ostream& out) { out << result.dump(2) << "\n"; });
  std::error_code ec;
  fs::remove(checkpoint, ec);
}

}  // namespace

json train_ensemble(const TrainOptions& options) {
  validate(options);
  TrainOptions o = options;
  o.augment_params.output_size = o.input_size;
  o.augment_params.resize = o.resize_policy;
  if (o.threads > 0) torch::set_num_threads(o.threads);
  cv::setNumThreads(1);  // the data pipeline parallelises over images itself
  const torch::Device device = parse_device(o.device);
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
    spdlog::info("--init {}: {}", o.init->string(),
                 keeps_init_heads(o, init_metadata, manifest.classes)
                     ? "its classifier heads are kept (its classes are the manifest's; --reset-heads replaces them)"
                     : "new classifier heads for the manifest's classes");
  }
  const ModelMetadata shape = member_metadata(o, manifest.classes, init_metadata);
  std::optional<Augmenter> augmenter;
  if (o.augment && !o.shards) augmenter.emplace(o.augment_params);

  SampleSource source =
      o.shards ? shard_source(*o.shards, manifest, o.train_split) : manifest_source(manifest.split(o.train_split));
  if (source.labels.size() < 2) {
    throw Error(o.manifest.string() + ": split '" + o.train_split + "' has fewer than 2 images");
  }
  if (static_cast<std::size_t>(o.batch_size) > source.labels.size()) {
    throw OptionError("--batch-size " + std::to_string(o.batch_size) + " is more than the " +
                      std::to_string(source.labels.size()) + " training images of split '" + o.train_split + "'");
  }
  for (std::size_t c = 0; c < manifest.classes.size(); ++c) {
    if (std::count(source.labels.begin(), source.labels.end(), static_cast<int>(c)) == 0) {
      spdlog::warn("split '{}' has no image of class '{}': the network cannot learn it", o.train_split,
                   manifest.classes[c]);
    }
  }
  const std::int64_t device_bytes =
      augmenter ? static_cast<std::int64_t>(source.labels.size()) * 3 * augmenter->working_side() * augmenter->working_side() : 0;
  const bool on_device =
      augmenter && (o.data_placement == DataPlacement::device ||
                    (o.data_placement == DataPlacement::automatic && device.is_cuda() &&
                     std::min(device_bytes, source.decoded_bytes) <= o.device_cache_mb * (std::int64_t{1} << 20)));
  const TrainingBatches train =
      on_device ? device_batches(source, *augmenter, o.resize_policy, device, o.workers, o.quiet)
                : host_batches(std::make_shared<TrainingSet>(std::move(source), shape.preprocessing,
                                                             augmenter ? &*augmenter : nullptr, o.cache_mb, o.workers,
                                                             o.quiet),
                               device);
  std::optional<TrainingSet> val;
  if (o.val_split == o.train_split) {
    spdlog::warn("--val-split '{}' is the training split: the best epoch is chosen on images the network trained on",
                 o.val_split);
  }
  if (!o.val_split.empty()) {
    val.emplace(manifest_source(manifest.split(o.val_split)), shape.preprocessing, nullptr, o.cache_mb, o.workers, o.quiet);
  }

  RunContext run{o, manifest, manifest_digest(manifest), device, train, val ? &*val : nullptr,
                 init_metadata, 0, std::nullopt};
  spdlog::info("training {} member(s) on {} images ({} classes) on {}, input {}x{}{}, augmentation {}", o.ensemble,
               train.labels.size(), manifest.classes.size(), device.str(), o.input_size, o.input_size,
               o.input_size != o.backbone_size ? " with the learned-resizer stem" : "",
               !augmenter ? "off" : on_device ? "on the device" : "on the host");
  std::optional<Clock::time_point> run_deadline;
  if (o.time_limit_minutes > 0) {
    run_deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(o.time_limit_minutes * 60.0));
  }
  const auto selected = [&](int member) {
    return o.members.empty() || std::find(o.members.begin(), o.members.end(), member) != o.members.end();
  };
  const auto finished = [&](int member) {
    return fs::exists(member_record(o.out_dir, member)) && fs::exists(member_file(o.out_dir, member));
  };
  // The members already in the folder that this run keeps, checked before any work.
  for (int member = 1; member <= o.ensemble; ++member) {
    if (finished(member) && (o.resume || !selected(member))) {
      read_member_record(o.out_dir, member, run_identity(o, run.digest, member, train.on_device));
    }
  }
  for (int member = 1; member <= o.ensemble; ++member) {
    if (!selected(member)) continue;
    if (o.resume && finished(member)) {
      spdlog::info("member {}: already trained, skipping", member);
      continue;
    }
    if (run_deadline) {
      int left = 0;
      for (int m = member; m <= o.ensemble; ++m) left += selected(m) && !(o.resume && finished(m));
      const auto now = Clock::now();
      run.member_deadline = now + (*run_deadline - now) / left;
    }
    train_member(run, member);
  }
  // Looked at only now, after this run's members are written: of processes
  // training members in parallel, the last to get here sees them all.
  json members = json::array();
  json member_names = json::array();
  bool complete = true;
  for (int member = 1; member <= o.ensemble; ++member) {
    if (!finished(member)) {
      complete = false;
      continue;
    }
    members.push_back(read_member_record(o.out_dir, member, run_identity(o, run.digest, member, train.on_device)));
    member_names.push_back(member_file(o.out_dir, member).filename().string());
  }
  if (complete) {
    const json ensemble{{"members", member_names}, {"classes", manifest.classes}, {"decision", "majority_vote"}};
    write_file_atomically(o.out_dir / kEnsembleFile, [&](std::ostream& out) { out << ensemble.dump(2) << "\n"; });
  } else {
    spdlog::info("{} of {} members present; {} is written by the run that completes the ensemble", members.size(),
                 o.ensemble, kEnsembleFile);
  }
  json summary{{"ensemble", fs::absolute(o.out_dir).string()},
               {"classes", manifest.classes},
               {"train_images", train.labels.size()},
               {"augmentation", !augmenter ? "off" : on_device ? "device" : "host"},
               {"val_images", val ? val->size() : 0},
               {"device", device.str()},
               {"members", members}};
  write_file_atomically(o.out_dir / "summary.json", [&](std::ostream& out) { out << summary.dump(2) << "\n"; });
  return summary;
}

}  // namespace derm
