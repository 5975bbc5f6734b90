// derm-train: fine-tune (or train from scratch) a majority-vote ensemble of
// Inception v3 networks on a derm-prep manifest.
#include <cstdio>

#include "derm/core/logging.hpp"
#include "derm/train/train.hpp"
#include "derm/version.hpp"
#include "distortion_options.hpp"
#include "tool_main.hpp"

namespace {

struct CommandLine {
  derm::TrainOptions train;
  std::string init;
  std::string shards;
  std::string resize_policy = "squash";
  std::string color_constancy = "none";
  std::string optimizer = "adamw";
  std::string balance = "sampler";
  std::string select_by = "auc";
  std::string distribute = "data";
  std::string dist_backend = "auto";
  std::string data_on = "auto";
  bool no_augment = false;
  bool no_resume = false;
  bool no_aux = false;
  bool fp32 = false;
  bool json = false;
  derm::cli::DistortionOptions distortions;
};

}  // namespace

int main(int argc, char** argv) {
  CommandLine cl;
  auto& o = cl.train;
  CLI::App app{
      "Trains an ensemble of Inception v3 networks (default 5, voting by majority) on a derm-prep manifest:\n"
      "transfer learning from a derm model file (--init, e.g. converted ImageNet weights) or from scratch,\n"
      "with on-the-fly augmentation, validation each epoch, the best epoch kept, and exact resumption\n"
      "after a kill. Writes an ensemble folder that derm-classify and derm-eval read.",
      "derm-train"};
  app.set_version_flag("--version", std::string("derm-train ") + DERM_VERSION);
  app.add_option("--manifest", o.manifest, "Manifest CSV from derm-prep")->required()->group("Data");
  app.add_option("--train-split", o.train_split, "Split to train on")->capture_default_str()->group("Data");
  app.add_option("--val-split", o.val_split, "Split for model selection and early stopping (\"\" = none)")
      ->capture_default_str()->group("Data");
  app.add_option("-o,--out", o.out_dir, "Ensemble folder to write")->required()->group("Data");
  CLI::Option* shards =
      app.add_option("--shards", cl.shards,
                     "Train on these derm-augment shards of the train split (pre-augmented; no on-the-fly augmentation)")
          ->group("Data");

  app.add_option("--init", cl.init,
                 "Derm model file to fine-tune; its classifier heads are kept when its classes are the manifest's, "
                 "else replaced; default: from scratch")
      ->group("Network");
  app.add_flag("--reset-heads", o.reset_heads, "With --init: new classifier heads even when its classes are the manifest's")
      ->group("Network");
  app.add_option("--input-size", o.input_size, "Input side in pixels (700 = the paper's; != backbone adds the stem)")
      ->capture_default_str()->group("Network");
  app.add_option("--backbone-size", o.backbone_size, "Side the learned-resizer stem resizes to")
      ->capture_default_str()->group("Network");
  app.add_option("--resize-policy", cl.resize_policy, "squash, center_crop or pad")
      ->check(derm::cli::enum_name<derm::ResizePolicy>())->capture_default_str()->group("Network");
  app.add_option("--color-constancy", cl.color_constancy,
                 "none, or shades_of_gray (p = 6: each input's illuminant made grey); kept in the members' files")
      ->check(derm::cli::enum_name<derm::ColorConstancy>())->capture_default_str()->group("Network");
  app.add_flag("--no-aux", cl.no_aux, "No auxiliary classifier (it is used only when the backbone is >= 299)")
      ->group("Network");
  app.add_option("--dropout", o.dropout, "Dropout before the classifier")->capture_default_str()->group("Network");

  app.add_option("--ensemble", o.ensemble, "Members (same architecture, different seeds and data orders)")
      ->capture_default_str()->group("Training");
  app.add_option("--members", o.members,
                 "Train only these members of the --ensemble (e.g. 2,3), say one per process into the same --out")
      ->delimiter(',')
      ->group("Training");
  app.add_option("--seed", o.seed, "Run seed; member k uses a seed derived from it")
      ->check(derm::cli::at_least(0))->capture_default_str()
      ->group("Training");
  app.add_option("--epochs", o.epochs, "Epochs per member")->capture_default_str()->group("Training");
  app.add_option("--head-epochs", o.head_epochs,
                 "First epochs training only the classifier heads (-1: 1 when --init gets new heads, else 0)")
      ->capture_default_str()->group("Training");
  app.add_option("--steps-per-epoch", o.steps_per_epoch, "Steps per epoch (0 = one pass over the split)")
      ->capture_default_str()->group("Training");
  app.add_option("-b,--batch-size", o.batch_size, "Images per step")->capture_default_str()->group("Training");
  app.add_option("--optimizer", cl.optimizer, "adamw or sgd (Nesterov momentum)")->capture_default_str()
      ->check(derm::cli::enum_name<derm::OptimizerKind>())->group("Training");
  app.add_option("--lr", o.lr, "Peak learning rate (warm-up, then cosine decay)")->capture_default_str()
      ->group("Training");
  app.add_option("--momentum", o.momentum, "SGD momentum")->capture_default_str()->group("Training");
  app.add_option("--weight-decay", o.weight_decay, "Weight decay")->capture_default_str()->group("Training");
  app.add_option("--warmup-epochs", o.warmup_epochs, "Linear warm-up length")->capture_default_str()
      ->group("Training");
  app.add_option("--label-smoothing", o.label_smoothing, "Label smoothing")->capture_default_str()
      ->group("Training");
  app.add_option("--aux-weight", o.aux_loss_weight, "Weight of the auxiliary classifier's loss")
      ->capture_default_str()->group("Training");
  app.add_option("--ema-decay", o.ema_decay,
                 "Validate, select and save an exponential moving average of the weights with this per-step decay "
                 "(e.g. 0.998; 0 = the weights as trained)")
      ->capture_default_str()->group("Training");
  app.add_option("--balance", cl.balance, "Class balance: none, sampler (balanced draws) or loss (weights)")
      ->capture_default_str()->check(derm::cli::enum_name<derm::ClassBalance>())->group("Training");
  app.add_option("--select-by", cl.select_by, "Best epoch by validation auc (mean over positive classes) or loss")
      ->capture_default_str()->check(derm::cli::enum_name<derm::SelectionMetric>())->group("Training");
  app.add_option("--patience", o.patience, "Stop after this many epochs without improvement (0 = never)")
      ->capture_default_str()->group("Training");
  app.add_option("--time-limit", o.time_limit_minutes,
                 "Minutes for the whole run (0 = none); members share them, and a member whose --epochs would not "
                 "fit its share gets a shorter schedule")
      ->capture_default_str()->group("Training");

  CLI::Option* no_augment =
      app.add_flag("--no-augment", cl.no_augment, "Train on the images as they are (no augmentation at all)")
          ->group("Distortions");
  for (CLI::Option* distortion : cl.distortions.add_to(app, /*with_resize=*/false)) {
    // Distortions that would not be applied are a mistake, not a no-op.
    no_augment->excludes(distortion);
    shards->excludes(distortion);
  }

  app.add_option("--accumulate-steps", o.accumulate_steps,
                 "Split each step's batch into this many micro-batches whose gradients are summed (less memory; "
                 "the same step as that many ranks)")
      ->capture_default_str()->group("Training");

  app.add_option("--distribute", cl.distribute,
                 "Under torchrun or srun: data (each step's batch split between the ranks) or members (member k "
                 "trained on rank (k - 1) mod ranks)")
      ->capture_default_str()->check(derm::cli::enum_name<derm::Distribution>())->group("Distributed");
  app.add_flag("--sync-batchnorm", o.sync_batchnorm,
               "BatchNorm statistics over the whole batch of every rank (default: each rank's own)")
      ->group("Distributed");
  app.add_option("--dist-backend", cl.dist_backend, "auto (nccl on CUDA, gloo on the CPU), nccl or gloo")
      ->capture_default_str()->check(derm::cli::enum_name<derm::DistBackend>())->group("Distributed");
  app.add_option("--dist-timeout", o.dist_timeout_seconds,
                 "Seconds a rank may stop responding before the others stop, naming it")
      ->capture_default_str()->group("Distributed");

  app.add_option("--checkpoint-every", o.checkpoint_every, "Steps between resumable checkpoints (0 = per epoch)")
      ->capture_default_str()->group("Run");
  app.add_flag("--no-resume", cl.no_resume, "Ignore checkpoints in --out and start over")->group("Run");
  app.add_option("--stop-after-steps", o.stop_after_steps, "Testing aid: stop (exit 4) after this many steps")
      ->group("Run");
  app.add_option("--device", o.device, "cpu, cuda, cuda:N or auto")->capture_default_str()->group("Run");
  app.add_flag("--fp32", cl.fp32, "CUDA: no bf16 autocast")->group("Run");
  app.add_flag("--cuda-graphs", o.cuda_graphs,
               "CUDA: replay each step's forward and backward pass as one recorded CUDA graph")->group("Run");
  app.add_option("--threads", o.threads, "CPU threads for the network (0 = LibTorch's default)")->group("Run");
  app.add_option("-j,--workers", o.workers, "Image decoding/augmentation threads")->capture_default_str()
      ->group("Run");
  app.add_option("--cache-mb", o.cache_mb, "Memory for decoded images (the split is decoded once if it fits)")
      ->capture_default_str()->group("Run");
  app.add_option("--data-on", cl.data_on,
                 "Where training images live and are augmented: host (OpenCV per image), device (tensors on the "
                 "training device, augmented in batches) or auto (device on CUDA when they fit)")
      ->capture_default_str()->check(derm::cli::enum_name<derm::DataPlacement>())->group("Run");
  app.add_option("--device-cache-mb", o.device_cache_mb, "Device memory for the training images with --data-on auto")
      ->capture_default_str()->group("Run");
  app.add_flag("--json", cl.json, "Print the final summary as JSON on stdout")->group("Run");
  app.add_flag("-q,--quiet", o.quiet, "No progress or logs on stderr")->group("Run");

  const auto run = [&] {
    derm::configure_logging(o.quiet ? derm::Verbosity::quiet : derm::Verbosity::normal);
    if (!cl.init.empty()) o.init = cl.init;
    if (!cl.shards.empty()) o.shards = cl.shards;
    o.resize_policy = derm::parse_enum<derm::ResizePolicy>(cl.resize_policy, "resize_policy");
    o.color_constancy = derm::parse_enum<derm::ColorConstancy>(cl.color_constancy, "color_constancy");
    o.optimizer = derm::parse_enum<derm::OptimizerKind>(cl.optimizer, "optimizer");
    o.balance = derm::parse_enum<derm::ClassBalance>(cl.balance, "balance");
    o.select_by = derm::parse_enum<derm::SelectionMetric>(cl.select_by, "select_by");
    o.data_placement = derm::parse_enum<derm::DataPlacement>(cl.data_on, "data_placement");
    o.distribute = derm::parse_enum<derm::Distribution>(cl.distribute, "distribute");
    o.dist_backend = derm::parse_enum<derm::DistBackend>(cl.dist_backend, "dist_backend");
    o.augment = !cl.no_augment;
    o.augment_params = cl.distortions.build();
    o.resume = !cl.no_resume;
    o.aux_logits = !cl.no_aux;
    o.bf16 = !cl.fp32;
    try {
      const auto summary = derm::train_ensemble(o);
      if (cl.json && !summary.is_null()) std::puts(summary.dump(2).c_str());
      return derm::cli::kExitOk;
    } catch (const derm::TrainingInterrupted& e) {
      std::fprintf(stderr, "derm-train: %s (--stop-after-steps); run again to resume\n", e.what());
      return 4;
    }
  };
  derm::cli::FlagNames flags = derm::cli::DistortionOptions::flag_names();
  flags.insert({{"out_dir", "--out"},
                {"aux_loss_weight", "--aux-weight"},
                {"time_limit_minutes", "--time-limit"},
                {"data_placement", "--data-on"},
                {"dist_timeout_seconds", "--dist-timeout"}});
  return derm::cli::run_tool(app, argc, argv, run, flags);
}
