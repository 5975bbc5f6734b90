#include "derm/model/state_dict.hpp"

#include "derm/core/error.hpp"

namespace derm {

namespace {

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.rfind(prefix, 0) == 0;
}

bool is_classifier(const std::string& name) {
  return starts_with(name, "fc.") || starts_with(name, "AuxLogits.fc.");
}

std::string shape_text(const torch::Tensor& t) {
  std::string text = "[";
  for (std::size_t i = 0; i < t.sizes().size(); ++i) text += (i ? ", " : "") + std::to_string(t.size(i));
  return text + "]";
}

}  // namespace

NamedTensors state_dict(const torch::nn::Module& module) {
  NamedTensors tensors;
  for (const auto& named : module.named_modules("", /*include_self=*/true)) {
    const std::string prefix = named.key().empty() ? "" : named.key() + ".";
    for (const auto& p : named.value()->named_parameters(/*recurse=*/false)) {
      tensors.emplace_back(prefix + p.key(), p.value());
    }
    for (const auto& b : named.value()->named_buffers(/*recurse=*/false)) {
      tensors.emplace_back(prefix + b.key(), b.value());
    }
  }
  return tensors;
}

namespace {

// load_state_dict_strict; with `adopt`, a tensor of the network's type and device
// takes the given tensor's storage instead of a copy of it (the caller gives the
// tensors away, e.g. those just read from a file).
void load_strict(torch::nn::Module& module, const std::map<std::string, torch::Tensor>& tensors,
                 const StrictLoadOptions& options, const std::string& origin, bool adopt) {
  const auto optional = [&](const std::string& name) {
    if (options.skip_classifier && is_classifier(name)) return true;
    for (const auto& prefix : options.optional_prefixes) {
      if (starts_with(name, prefix)) return true;
    }
    return false;
  };
  const NamedTensors targets = state_dict(module);
  std::map<std::string, torch::Tensor> by_name(targets.begin(), targets.end());
  for (const auto& [name, tensor] : tensors) {
    if (options.skip_classifier && is_classifier(name)) continue;
    if (!by_name.count(name)) throw Error(origin + ": unknown tensor '" + name + "' (not in the network)");
  }
  torch::NoGradGuard no_grad;
  for (auto& [name, target] : targets) {
    auto it = tensors.find(name);
    if (it == tensors.end() || (options.skip_classifier && is_classifier(name))) {
      if (optional(name)) continue;
      throw Error(origin + ": missing tensor '" + name + "'");
    }
    const torch::Tensor& source = it->second;
    if (!source.sizes().equals(target.sizes())) {
      throw Error(origin + ": tensor '" + name + "' has shape " + shape_text(source) + ", the network expects " +
                  shape_text(target));
    }
    if (source.is_floating_point() != target.is_floating_point()) {
      throw Error(origin + ": tensor '" + name + "' has type " + c10::toString(source.scalar_type()) +
                  ", the network expects " + c10::toString(target.scalar_type()));
    }
    if (adopt && source.scalar_type() == target.scalar_type() && source.device() == target.device() &&
        source.is_contiguous()) {
      target.set_data(source);
    } else {
      target.copy_(source);
    }
  }
}

}  // namespace

void load_state_dict_strict(torch::nn::Module& module, const std::map<std::string, torch::Tensor>& tensors,
                            const StrictLoadOptions& options, const std::string& origin) {
  load_strict(module, tensors, options, origin, /*adopt=*/false);
}

void load_state_dict_strict(torch::nn::Module& module, std::map<std::string, torch::Tensor>&& tensors,
                            const StrictLoadOptions& options, const std::string& origin) {
  load_strict(module, tensors, options, origin, /*adopt=*/true);
}

}  // namespace derm
