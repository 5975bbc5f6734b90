#include "member_setup.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include "derm/model/safetensors.hpp"
#include "derm/model/state_dict.hpp"
#include "multi_tensor_adamw.hpp"

namespace derm {

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
  m.preprocessing.color_constancy = o.color_constancy;
  if (init) {
    m.preprocessing.mean = init->preprocessing.mean;
    m.preprocessing.std = init->preprocessing.std;
  }
  return m;
}

bool keeps_init_heads(const TrainOptions& o, const std::optional<ModelMetadata>& init,
                      const std::vector<std::string>& classes) {
  return init && !o.reset_heads && init->classes == classes;
}

namespace {

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

}  // namespace

Model initial_model(const TrainOptions& o, const ModelMetadata& metadata, bool keep_init_heads) {
  Model model = create_model(metadata);
  initialise_for_training(model.network, !o.init);
  if (o.init) {
    SafetensorsContent content = read_safetensors(*o.init);
    StrictLoadOptions transfer;
    transfer.skip_classifier = !keep_init_heads;
    transfer.optional_prefixes = {"stem."};
    if (!metadata.architecture.aux_logits) {
      // The source's auxiliary classifier has no counterpart here.
      for (auto it = content.tensors.begin(); it != content.tensors.end();) {
        it = it->first.rfind("AuxLogits.", 0) == 0 ? content.tensors.erase(it) : std::next(it);
      }
    } else {
      transfer.optional_prefixes.push_back("AuxLogits.");
    }
    load_state_dict_strict(*model.network, content.tensors, transfer, o.init->string());
  }
  return model;
}

void set_trainable(InceptionV3& net, bool heads_only) {
  const auto heads = net->head_parameters();
  for (auto& p : net->parameters()) {
    const bool is_head = std::any_of(heads.begin(), heads.end(), [&](const torch::Tensor& h) { return h.is_same(p); });
    p.set_requires_grad(!heads_only || is_head);
  }
}

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

torch::Tensor class_weights(const TrainOptions& o, const std::vector<int>& labels, std::size_t classes,
                            const torch::Device& device) {
  if (o.balance != ClassBalance::loss) return {};
  std::vector<double> counts(classes, 0.0);
  for (int label : labels) counts[static_cast<std::size_t>(label)] += 1;
  std::vector<float> w;
  for (double c : counts) w.push_back(c > 0 ? static_cast<float>(labels.size() / (counts.size() * c)) : 0.0f);
  return torch::tensor(w).to(device);
}

Schedule::Schedule(const TrainOptions& o, std::size_t training_images, bool keep_init_heads)
    : head_epochs(o.head_epochs >= 0 ? o.head_epochs : (o.init && !keep_init_heads ? 1 : 0)),
      samples_per_epoch(o.steps_per_epoch > 0
                            ? std::int64_t{o.steps_per_epoch} * o.batch_size
                            : std::max<std::int64_t>(o.batch_size, static_cast<std::int64_t>(training_images))),
      steps_per_epoch(samples_per_epoch / o.batch_size),
      warmup_steps(static_cast<std::int64_t>(std::llround(o.warmup_epochs * steps_per_epoch))) {}

double Schedule::learning_rate(double peak, std::int64_t step, int planned_epochs) const {
  const std::int64_t total_steps = steps_per_epoch * planned_epochs;
  if (step < warmup_steps) return peak * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  const double progress =
      static_cast<double>(step - warmup_steps) / std::max<std::int64_t>(1, total_steps - warmup_steps);
  return 0.5 * peak * (1.0 + std::cos(M_PI * std::min(1.0, progress)));
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

}  // namespace derm
