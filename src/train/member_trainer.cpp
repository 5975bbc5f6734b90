#include "member_trainer.hpp"

#include <cmath>
#include <fstream>
#include <functional>
#include <memory>

#include <spdlog/spdlog.h>

#include "checkpoint.hpp"
#include "data_parallel.hpp"
#include "derm/augment/sample_seed.hpp"
#include "derm/core/atomic_file.hpp"
#include "derm/core/error.hpp"
#include "derm/core/progress.hpp"
#include "derm/model/autocast.hpp"
#include "derm/model/graphed_training_step.hpp"
#include "derm/model/model_io.hpp"
#include "derm/model/tensor_image.hpp"
#include "derm/train/train.hpp"
#include "derm/version.hpp"
#include "member_setup.hpp"
#include "training_loss.hpp"
#include "validation.hpp"
#include "weight_average.hpp"

namespace derm {
namespace fs = std::filesystem;
using nlohmann::json;

int epochs_that_fit(int most, int done, Clock::duration last_epoch, Clock::time_point now, Clock::time_point deadline) {
  const double per_epoch = std::max(1e-3, std::chrono::duration<double>(last_epoch).count());
  const double left = std::chrono::duration<double>(deadline - now).count();
  const int more = left <= 0 ? 0 : static_cast<int>(std::floor(left / per_epoch));
  return std::min(most, done + more);
}

namespace {

// Losses are summed on the device and read back only every few steps (a read
// waits for the GPU); the read points depend on the step alone, so a resumed
// run adds the same partial sums in the same order.
constexpr std::int64_t kLossReadEvery = 16;

class MemberTrainer {
 public:
  MemberTrainer(TrainingRun& run, int member);

  // The epochs left, then the member's record; the checkpoint is removed.
  void run() {
    const int first_epoch_here = state_.epoch;
    for (int epoch = state_.epoch; epoch < state_.planned_epochs && !state_.stopped_early; ++epoch) {
      const auto epoch_start = Clock::now();
      json record = train(epoch);
      const double metric = test(epoch, record);
      keep_if_best(epoch, metric, record);
      if (writer_) log_ << record.dump() << "\n" << std::flush;
      end_epoch(epoch, epoch_start, first_epoch_here);
    }
    finish();
  }

 private:
  json train(int epoch);
  double test(int epoch, json& record);
  void keep_if_best(int epoch, double metric, json& record);
  void end_epoch(int epoch, Clock::time_point epoch_start, int first_epoch_here);
  void finish();

  torch::Tensor loss_of_batch(const torch::Tensor& x, const torch::Tensor& y);
  // A step split into micro-batches (over ranks, accumulation steps): the
  // gradients of the whole batch's loss summed into .grad; this rank's share
  // of the loss.
  torch::Tensor split_step(const torch::Tensor& images, const torch::Tensor& y, const std::vector<int>& batch_labels);
  torch::Tensor micro_batch_loss(const torch::Tensor& x, const torch::Tensor& y, double denominator);
  // The distributed run's ranks start from rank 0's state, and agree where.
  void join_ranks(bool resumed);
  // What is validated, selected and saved: the weight average when there is one.
  void with_selected_weights(const std::function<void()>& use) {
    if (average_) {
      average_->with_average_in(use);
    } else {
      use();
    }
  }

  TrainingRun& run_;
  const TrainOptions& o_;
  ProcessGroup* const group_;  // null: this process alone
  const bool writer_;          // writes the member's files: rank 0, or a process alone
  const bool split_steps_;     // over ranks or accumulation steps
  const int member_;
  const json identity_;
  const std::uint64_t member_seed_;
  const bool cuda_;
  ModelMetadata metadata_;
  bool keep_init_heads_;
  Model model_;
  InceptionV3& net_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::unique_ptr<WeightAverage> average_;  // null without ema_decay
  Schedule schedule_;
  TrainingState state_;
  fs::path checkpoint_;
  torch::Tensor class_weights_;
  // Made again when the stage changes (what is trained and BatchNorm's mode).
  std::unique_ptr<GraphedTrainingStep> gradients_of_;
  bool gradients_of_heads_only_ = false;
  // Split steps: made again when the stage changes what is trained.
  std::unique_ptr<GradientBuckets> buckets_;
  bool buckets_heads_only_ = false;
  std::unique_ptr<RunningStatistics> statistics_;
  std::unique_ptr<GroupBatchNormSync> batch_norm_sync_;
  std::vector<double> class_weight_values_;
  std::ofstream log_;
  std::size_t stem_resize_choices_seen_ = 0;
};

std::uint64_t seeded(std::uint64_t seed) {
  torch::manual_seed(seed);
  return seed;
}

MemberTrainer::MemberTrainer(TrainingRun& run, int member)
    : run_(run),
      o_(run.options),
      group_(run.group),
      writer_(!group_ || group_->rank() == 0),
      split_steps_(group_ || o_.accumulate_steps > 1),
      member_(member),
      identity_(run_identity(o_, run.manifest_fingerprint, member, run.train.on_device)),
      member_seed_(seeded(derive_seed(o_.seed, static_cast<std::uint64_t>(member), 0))),
      cuda_(run.device.is_cuda()),
      metadata_(member_metadata(o_, run.manifest.classes, run.init_metadata)),
      keep_init_heads_(keeps_init_heads(o_, run.init_metadata, run.manifest.classes)),
      model_(initial_model(o_, metadata_, keep_init_heads_)),
      net_(model_.network),
      schedule_(o_, run.train.labels.size(), keep_init_heads_),
      checkpoint_(run.folder.member_checkpoint(member)) {
  if (writer_) log_.open(run.folder.training_log(), std::ios::app);
  net_->to(run_.device);
  if (cuda_ && o_.channels_last) {
    for (auto& p : net_->parameters()) {
      if (p.dim() == 4) p.set_data(p.data().contiguous(torch::MemoryFormat::ChannelsLast));
    }
  }
  optimizer_ = make_optimizer(o_, net_);
  if (o_.ema_decay > 0) average_ = std::make_unique<WeightAverage>(*net_, o_.ema_decay);
  state_.planned_epochs = o_.epochs;
  const int micro_batches = (group_ ? group_->size() : 1) * o_.accumulate_steps;
  state_.micro_batches = micro_batches;
  state_.sync_batchnorm = o_.sync_batchnorm;
  // This process alone writes this member's files (members splits them between processes).
  if (writer_) {
    for (const auto& file : {checkpoint_, run_.folder.member_model(member_), run_.folder.member_record(member_)}) {
      remove_stale_temporaries(file);
    }
  }
  const bool resumed =
      o_.resume && load_checkpoint(checkpoint_, *net_, *optimizer_, average_.get(), &state_, identity_, run_.device);
  if (resumed) {
    spdlog::info("member {}: resuming at epoch {}, step {}", member_, state_.epoch + 1, state_.step_in_epoch);
    if (state_.micro_batches != micro_batches || state_.sync_batchnorm != o_.sync_batchnorm) {
      spdlog::warn("member {}: the checkpoint's steps were split into {} micro-batches{}, this run's into {}{}: it "
                   "resumes, but not bit-identically to an uninterrupted run",
                   member_, state_.micro_batches, state_.sync_batchnorm ? " with synchronised BatchNorm" : "",
                   micro_batches, o_.sync_batchnorm ? " with synchronised BatchNorm" : "");
      state_.micro_batches = micro_batches;
      state_.sync_batchnorm = o_.sync_batchnorm;
    }
  }
  if (group_) join_ranks(resumed);
  class_weights_ = class_weights(o_, run_.train.labels, metadata_.classes.size(), run_.device);
  if (class_weights_.defined()) {
    const auto values = class_weights_.to(torch::kCPU, torch::kFloat64).contiguous();
    class_weight_values_.assign(values.data_ptr<double>(), values.data_ptr<double>() + values.numel());
  }
  if (split_steps_) {
    std::vector<torch::Tensor> buffers;
    for (const auto& b : net_->buffers()) buffers.push_back(b);
    statistics_ = std::make_unique<RunningStatistics>(group_, buffers, o_.accumulate_steps);
  }
  if (group_ && o_.sync_batchnorm) batch_norm_sync_ = std::make_unique<GroupBatchNormSync>(*group_);
}

void MemberTrainer::join_ranks(bool resumed) {
  const auto position = torch::tensor({static_cast<std::int64_t>(resumed), state_.global_step}, torch::kInt64);
  const auto all = group_->all_gather(position, "comparison of the ranks' checkpoints");
  for (int r = 1; r < group_->size(); ++r) {
    if (!torch::equal(all[r], all[0])) {
      throw Error(checkpoint_.string() + ": rank " + std::to_string(r) + " resumes at step " +
                  std::to_string(all[r][1].item<std::int64_t>()) + ", rank 0 at step " +
                  std::to_string(all[0][1].item<std::int64_t>()) +
                  "; every rank must see the same output folder (a shared file system)");
    }
  }
  std::vector<torch::Tensor> state;
  for (const auto& p : net_->parameters()) state.push_back(p);
  for (const auto& b : net_->buffers()) state.push_back(b);
  group_->broadcast(state, "broadcast of rank 0's weights");
}

// A batch's loss, backward included: what a training step computes before the optimizer.
torch::Tensor MemberTrainer::loss_of_batch(const torch::Tensor& x, const torch::Tensor& y) {
  torch::Tensor loss;
  {
    Bf16Autocast cast(cuda_ && o_.bf16, run_.device);
    const auto out = net_->forward_with_aux(x);
    loss = mean_cross_entropy(out.logits.to(torch::kFloat32), y, o_.label_smoothing, class_weights_);
    if (out.aux_logits.defined() && o_.aux_loss_weight > 0) {
      loss = loss + o_.aux_loss_weight *
                        mean_cross_entropy(out.aux_logits.to(torch::kFloat32), y, o_.label_smoothing, class_weights_);
    }
  }
  loss.backward();
  return loss.detach();
}

torch::Tensor MemberTrainer::micro_batch_loss(const torch::Tensor& x, const torch::Tensor& y, double denominator) {
  torch::Tensor loss;
  {
    Bf16Autocast cast(cuda_ && o_.bf16, run_.device);
    const auto out = net_->forward_with_aux(x);
    const auto share = [&](const torch::Tensor& logits) {
      return summed_cross_entropy(logits.to(torch::kFloat32), y, o_.label_smoothing, class_weights_) / denominator;
    };
    loss = share(out.logits);
    if (out.aux_logits.defined() && o_.aux_loss_weight > 0) loss = loss + o_.aux_loss_weight * share(out.aux_logits);
  }
  loss.backward();
  return loss.detach();
}

torch::Tensor MemberTrainer::split_step(const torch::Tensor& images, const torch::Tensor& y,
                                        const std::vector<int>& batch_labels) {
  for (auto& p : net_->parameters()) p.mutable_grad() = torch::Tensor();
  double denominator = static_cast<double>(batch_labels.size());
  if (!class_weight_values_.empty()) {
    denominator = 0;
    for (const int label : batch_labels) denominator += class_weight_values_[static_cast<std::size_t>(label)];
  }
  const int micro_batches = o_.accumulate_steps;
  const std::int64_t size = images.size(0) / micro_batches;
  const int first_micro_batch = (group_ ? group_->rank() : 0) * micro_batches;
  std::optional<SyncBatchNormScope> synchronised;
  if (batch_norm_sync_) synchronised.emplace(batch_norm_sync_.get());
  auto loss = torch::zeros({}, torch::TensorOptions().device(run_.device));
  for (int k = 0; k < micro_batches; ++k) {
    const auto x = normalize_batch(images.narrow(0, k * size, size), metadata_.preprocessing,
                                   cuda_ && o_.channels_last ? torch::MemoryFormat::ChannelsLast
                                                             : torch::MemoryFormat::Contiguous);
    // Dropout masks from the step and the micro-batch's place in the whole
    // batch: the same for any split into ranks and accumulation steps.
    const auto step_seed = derive_seed(member_seed_, static_cast<std::uint64_t>(state_.global_step), 2);
    const int micro_batch = first_micro_batch + k;
    torch::manual_seed(micro_batch == 0 ? step_seed : derive_seed(step_seed, static_cast<std::uint64_t>(micro_batch), 3));
    statistics_->before_micro_batch(k);
    if (k + 1 == micro_batches && buckets_) buckets_->arm();
    loss += micro_batch_loss(x, y.narrow(0, k * size, size), denominator);
    statistics_->after_micro_batch(k);
  }
  if (buckets_) buckets_->finish();
  statistics_->finish_step();
  return loss;
}

// The epoch's training steps (from the checkpoint's step on); its log record so far.
json MemberTrainer::train(int epoch) {
  const bool heads_only = epoch < schedule_.head_epochs;
  set_trainable(net_, heads_only);
  if (group_ && (!buckets_ || buckets_heads_only_ != heads_only)) {
    buckets_.reset();
    std::vector<torch::Tensor> trained;
    for (const auto& p : net_->parameters()) {
      if (p.requires_grad()) trained.push_back(p);
    }
    buckets_ = std::make_unique<GradientBuckets>(*group_, trained);
    buckets_heads_only_ = heads_only;
  }
  if (!split_steps_ && (!gradients_of_ || gradients_of_heads_only_ != heads_only)) {
    gradients_of_ = std::make_unique<GraphedTrainingStep>(
        [this](const torch::Tensor& x, const torch::Tensor& y) { return loss_of_batch(x, y); }, net_->parameters(),
        cuda_ && o_.cuda_graphs);
    gradients_of_heads_only_ = heads_only;
  }
  EpochBatches batches(run_.train,
                       epoch_order(run_.train.labels, static_cast<int>(metadata_.classes.size()),
                                   o_.balance == ClassBalance::sampler,
                                   static_cast<std::size_t>(schedule_.samples_per_epoch),
                                   derive_seed(member_seed_, static_cast<std::uint64_t>(epoch), 1)),
                       o_.batch_size, member_seed_, epoch, run_.device,
                       group_ ? BatchSlice{group_->rank() * o_.batch_size / group_->size(),
                                                    o_.batch_size / group_->size()}
                              : BatchSlice{});
  Progress progress("member " + std::to_string(member_) + " epoch " + std::to_string(epoch + 1) + "/" +
                        std::to_string(state_.planned_epochs),
                    schedule_.steps_per_epoch * o_.batch_size, o_.quiet);
  progress.advance(std::int64_t{state_.step_in_epoch} * o_.batch_size);
  const auto start = Clock::now();
  const int steps_before = state_.step_in_epoch;
  auto pending_loss = torch::zeros({1}, torch::TensorOptions().dtype(torch::kFloat64).device(run_.device));
  int pending_count = 0;
  const auto read_losses = [&] {
    if (pending_count == 0) return;
    if (group_) group_->all_reduce_sum(pending_loss, "all-reduce of the training loss");
    const double sum = pending_loss.item<double>();
    if (!std::isfinite(sum)) {
      throw Error("member " + std::to_string(member_) + ": training diverged (loss " + std::to_string(sum) +
                  " before step " + std::to_string(state_.global_step) + "); lower the learning rate");
    }
    state_.epoch_loss_sum += sum;
    state_.epoch_loss_count += pending_count;
    pending_loss.zero_();
    pending_count = 0;
    char note[64];
    std::snprintf(note, sizeof note, "loss %.4f", state_.epoch_loss_sum / state_.epoch_loss_count);
    progress.set_note(note);
  };
  for (std::int64_t step = state_.step_in_epoch; step < schedule_.steps_per_epoch; ++step) {
    set_training_mode(net_, heads_only);
    auto [images, y] = batches.step(step);
    set_learning_rate(*optimizer_, schedule_.learning_rate(o_.lr, state_.global_step, state_.planned_epochs));
    torch::Tensor loss;
    if (split_steps_) {
      loss = split_step(images, y, batches.batch_labels(step));
    } else {
      const auto x = normalize_batch(images, metadata_.preprocessing,
                                     cuda_ && o_.channels_last ? torch::MemoryFormat::ChannelsLast
                                                               : torch::MemoryFormat::Contiguous);
      // Dropout masks from the step alone, so that a resumed run draws the same ones.
      torch::manual_seed(derive_seed(member_seed_, static_cast<std::uint64_t>(state_.global_step), 2));
      loss = (*gradients_of_)(x, y);
    }
    optimizer_->step();
    pending_loss += loss.to(torch::kFloat64);
    ++pending_count;
    ++state_.global_step;
    if (average_) average_->update(state_.global_step);
    state_.step_in_epoch = static_cast<int>(step + 1);
    ++run_.steps_this_process;
    progress.advance(o_.batch_size);
    const bool checkpoint_now = o_.checkpoint_every > 0 && state_.global_step % o_.checkpoint_every == 0 &&
                                step + 1 < schedule_.steps_per_epoch;
    if (state_.global_step % kLossReadEvery == 0 || checkpoint_now) read_losses();
    if (checkpoint_now && writer_) save_checkpoint(checkpoint_, *net_, *optimizer_, average_.get(), state_, identity_);
    if (o_.stop_after_steps > 0 && run_.steps_this_process >= o_.stop_after_steps) {
      throw TrainingInterrupted("stopped after " + std::to_string(run_.steps_this_process) + " steps");
    }
  }
  read_losses();
  progress.finish();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return {{"member", member_},
          {"epoch", epoch + 1},
          {"stage", heads_only ? "heads" : "all"},
          {"train_loss", state_.epoch_loss_count ? json(state_.epoch_loss_sum / state_.epoch_loss_count) : json(nullptr)},
          {"planned_epochs", state_.planned_epochs},
          {"lr", schedule_.learning_rate(o_.lr, std::max<std::int64_t>(0, state_.global_step - 1),
                                         state_.planned_epochs)},
          {"images_per_second", (state_.step_in_epoch - steps_before) * o_.batch_size / seconds},
          {"seconds", seconds},
          {"cuda_graphs", gradients_of_ && gradients_of_->replaying()}};
}

// Validation into the record (and the stem's new resize timings); returns the
// selection metric, higher is better.
double MemberTrainer::test(int epoch, json& record) {
  double metric = static_cast<double>(epoch);  // no validation: the last epoch is the best
  if (run_.val) {
    const auto validate_now = [&] {
      return validate_member(net_, *run_.val, metadata_, run_.device, o_.batch_size, cuda_ && o_.bf16, group_);
    };
    std::optional<Validation> live;
    if (average_) {
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
    metric = (o_.select_by == SelectionMetric::auc && !std::isnan(v.mean_auc)) ? v.mean_auc : -v.loss;
    if (!o_.quiet) {
      const auto auc_text = [](double auc) { return std::isnan(auc) ? std::string("n/a") : std::to_string(auc); };
      spdlog::info("member {} epoch {}: train loss {:.4f}, val loss {:.4f}, val accuracy {:.3f}, val mean AUC {}{}",
                   member_, epoch + 1, state_.epoch_loss_count ? state_.epoch_loss_sum / state_.epoch_loss_count : 0.0,
                   v.loss, v.accuracy, auc_text(v.mean_auc),
                   live ? " (weight average; as trained " + auc_text(live->mean_auc) + ")" : std::string());
    }
  }
  if (net_->stem) {
    // The stem's resize timings made in this epoch (derm/model/antialiased_resize.hpp).
    const auto choices = net_->stem->resizer().choices();
    json made = json::array();
    for (std::size_t i = stem_resize_choices_seen_; i < choices.size(); ++i) {
      made.push_back(describe(choices[i]));
      spdlog::info("member {}: stem resize for {}", member_, made.back().get<std::string>());
    }
    stem_resize_choices_seen_ = choices.size();
    if (!made.empty()) record["stem_resize"] = made;
  }
  return metric;
}

void MemberTrainer::keep_if_best(int epoch, double metric, json& record) {
  const bool improved = std::isnan(state_.best_metric) || metric > state_.best_metric;
  if (improved) {
    state_.best_metric = metric;
    state_.best_epoch = epoch + 1;
    state_.stale_epochs = 0;
    model_.metadata.provenance = {{"trained", true},
                                  {"tool", std::string("derm-train ") + DERM_VERSION},
                                  {"manifest", fs::absolute(o_.manifest).string()},
                                  {"manifest_digest", run_.manifest_fingerprint},
                                  {"member", member_},
                                  {"seed", member_seed_},
                                  {"epoch", epoch + 1},
                                  {"init", o_.init ? o_.init->string() : "scratch"},
                                  {"init_heads", !o_.init ? json(nullptr) : keep_init_heads_ ? "kept" : "new"},
                                  {"weight_average_decay", average_ ? json(o_.ema_decay) : json(nullptr)},
                                  {"validation", record}};
    if (writer_) with_selected_weights([&] { save_model(run_.folder.member_model(member_), model_); });
  } else {
    ++state_.stale_epochs;
  }
  record["best"] = improved;
  state_.history.push_back(record);
}

// The epoch is done: early stopping, the time limit's plan, the checkpoint.
void MemberTrainer::end_epoch(int epoch, Clock::time_point epoch_start, int first_epoch_here) {
  state_.epoch = epoch + 1;
  state_.step_in_epoch = 0;
  state_.epoch_loss_sum = 0;
  state_.epoch_loss_count = 0;
  if (o_.patience > 0 && state_.stale_epochs >= o_.patience) {
    state_.stopped_early = true;
    spdlog::info("member {}: no improvement for {} epochs, stopping early", member_, o_.patience);
  }
  if (run_.member_deadline) {
    const auto now = Clock::now();
    int fit = epochs_that_fit(o_.epochs, state_.epoch, now - epoch_start, now, *run_.member_deadline);
    if (group_) {
      // Rank 0's clock decides for all.
      const auto planned = torch::tensor({static_cast<std::int64_t>(fit)}, torch::kInt64);
      group_->broadcast({planned}, "broadcast of the time limit's plan");
      fit = static_cast<int>(planned.item<std::int64_t>());
    }
    // A process's first epoch is slow (cuDNN autotuning, cold caches): it
    // only decides when not even one more epoch of its length fits.
    const bool first_here = epoch == first_epoch_here;
    if (fit != state_.planned_epochs && !(first_here && fit > state_.epoch)) {
      spdlog::info("member {}: the time limit leaves time for {} of {} epochs; the schedule now ends there", member_,
                   fit, o_.epochs);
      state_.planned_epochs = fit;
    }
  }
  if (state_.epoch < state_.planned_epochs && !state_.stopped_early && writer_) {
    save_checkpoint(checkpoint_, *net_, *optimizer_, average_.get(), state_, identity_);
  }
}

void MemberTrainer::finish() {
  if (!writer_) return;
  run_.folder.write_member_record(member_, {{"member", member_},
                                            {"file", run_.folder.member_model(member_).filename().string()},
                                            {"run", identity_},
                                            {"best_epoch", state_.best_epoch},
                                            {"epochs_run", state_.epoch},
                                            {"planned_epochs", state_.planned_epochs},
                                            {"stopped_early", state_.stopped_early},
                                            {"time_limited", state_.planned_epochs < o_.epochs},
                                            {"history", state_.history}});
  std::error_code ec;
  fs::remove(checkpoint_, ec);
}

}  // namespace

void train_member(TrainingRun& run, int member) { MemberTrainer(run, member).run(); }

}  // namespace derm
