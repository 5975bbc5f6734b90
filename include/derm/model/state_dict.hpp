#pragma once
// A module's tensors by PyTorch's state_dict names (e.g. torchvision's
// "Mixed_5b.branch1x1.conv.weight"), and strict loading: an unknown tensor, a
// missing tensor or a wrong shape is an error.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "derm/model/safetensors.hpp"

namespace derm {

// Parameters and buffers under PyTorch's state_dict names and order.
NamedTensors state_dict(const torch::nn::Module& module);

struct StrictLoadOptions {
  // Transfer learning: the file's classifier heads (fc.*, AuxLogits.fc.*) are
  // ignored and the module keeps its freshly initialised ones.
  bool skip_classifier = false;
  // Tensors of the module under these prefixes may be absent from the file
  // (e.g. "stem." when ImageNet weights start a high-resolution network).
  std::vector<std::string> optional_prefixes;
};

// Copies every tensor into the module. A tensor the module lacks, a tensor the
// file lacks, or a shape mismatch is a derm::Error naming the tensor and `origin`.
void load_state_dict_strict(torch::nn::Module& module, const std::map<std::string, torch::Tensor>& tensors,
                            const StrictLoadOptions& options, const std::string& origin);
// The same, for tensors the caller gives away (e.g. just read from a file): a
// tensor of the module's type and device, contiguous, becomes the module's own
// instead of being copied.
void load_state_dict_strict(torch::nn::Module& module, std::map<std::string, torch::Tensor>&& tensors,
                            const StrictLoadOptions& options, const std::string& origin);

}  // namespace derm
