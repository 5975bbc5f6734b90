#include "derm/train/train_options.hpp"

#include <cmath>

#include "derm/core/error.hpp"
#include "derm/model/model_metadata.hpp"

namespace derm {
namespace fs = std::filesystem;
using nlohmann::json;

void validate_train_options(const TrainOptions& o) {
  const auto require = [](bool ok, const std::string& option, const std::string& problem) {
    if (!ok) throw OptionError(option, problem);
  };
  require(!o.manifest.empty(), "manifest", "is required");
  require(!o.out_dir.empty(), "out_dir", "is required");
  require(o.ensemble >= 1 && o.ensemble <= 100, "ensemble", "must be between 1 and 100");
  for (int m : o.members) {
    require(m >= 1 && m <= o.ensemble, "members", ": " + std::to_string(m) + " is not in 1..{ensemble}");
  }
  require(o.epochs >= 1, "epochs", "must be at least 1");
  require(o.head_epochs < o.epochs, "head_epochs", "must be fewer than {epochs}");
  require(o.batch_size >= 2, "batch_size", "must be at least 2 (BatchNorm needs two images)");
  require(o.lr > 0 && std::isfinite(o.lr), "lr", "must be positive");
  require(o.momentum >= 0 && o.momentum < 1, "momentum", "must be in [0, 1)");
  require(o.weight_decay >= 0, "weight_decay", "must be non-negative");
  require(o.warmup_epochs >= 0, "warmup_epochs", "must be non-negative");
  require(o.label_smoothing >= 0 && o.label_smoothing < 1, "label_smoothing", "must be in [0, 1)");
  require(o.dropout >= 0 && o.dropout < 1, "dropout", "must be in [0, 1)");
  require(o.backbone_size >= 75, "backbone_size", "must be at least 75 (Inception v3's minimum)");
  require(o.input_size >= 32, "input_size", "must be at least 32");
  require(std::max(o.input_size, o.backbone_size) <= kMaxInputSize, "input_size",
          "and {backbone_size} must be at most " + std::to_string(kMaxInputSize));
  require(o.head_epochs >= -1, "head_epochs", "must be -1 (automatic) or more");
  require(o.aux_loss_weight >= 0, "aux_loss_weight", "must be non-negative");
  require(o.steps_per_epoch >= 0, "steps_per_epoch", "must be non-negative");
  require(o.ema_decay >= 0 && o.ema_decay < 1, "ema_decay", "must be in [0, 1)");
  require(o.patience >= 0, "patience", "must be non-negative");
  require(o.time_limit_minutes >= 0 && std::isfinite(o.time_limit_minutes), "time_limit_minutes",
          "must be non-negative");
  require(o.checkpoint_every >= 0, "checkpoint_every", "must be non-negative");
  require(o.workers >= 1, "workers", "must be at least 1");
  require(o.threads >= 0, "threads", "must be non-negative");
  require(o.cache_mb >= 0, "cache_mb", "must be non-negative");
  require(o.device_cache_mb >= 0, "device_cache_mb", "must be non-negative");
  require(o.accumulate_steps >= 1, "accumulate_steps", "must be at least 1");
  require(o.batch_size % o.accumulate_steps == 0, "batch_size",
          std::to_string(o.batch_size) + " is not a multiple of {accumulate_steps} " +
              std::to_string(o.accumulate_steps));
  require(o.dist_timeout_seconds > 0 && std::isfinite(o.dist_timeout_seconds), "dist_timeout_seconds",
          "must be positive");
  require(!o.sync_batchnorm || o.distribute == Distribution::data, "sync_batchnorm",
          "shares BatchNorm statistics between ranks that share a batch: it needs {distribute} data");
  if (o.init && !fs::is_regular_file(*o.init)) throw Error(o.init->string() + ": no such model file");
  require(!o.reset_heads || o.init, "reset_heads", "needs {init}");
  if (o.shards && !fs::is_directory(*o.shards)) throw Error(o.shards->string() + ": no such folder of shards");
}

json run_identity(const TrainOptions& o, const std::string& manifest_fingerprint, int member, bool data_on_device) {
  json identity{{"manifest", manifest_fingerprint},
                {"train_split", o.train_split},
                {"val_split", o.val_split},
                {"init", o.init ? o.init->string() : ""},
                {"reset_heads", o.reset_heads},
                {"input_size", o.input_size},
                {"backbone_size", o.backbone_size},
                {"resize_policy", name_of(o.resize_policy)},
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
  if (o.color_constancy != ColorConstancy::none) identity["color_constancy"] = name_of(o.color_constancy);
  return identity;
}

}  // namespace derm
