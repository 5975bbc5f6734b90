#pragma once
// derm model files: a safetensors container (8-byte little-endian header length,
// JSON header, raw little-endian tensor data) whose "__metadata__" holds the
// ModelMetadata as JSON under the key "derm". Any safetensors reader (Python's
// safetensors, numpy with a few lines) can open one; derm reads them strictly.
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "derm/inception_v3.hpp"
#include "derm/model_metadata.hpp"

namespace derm {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

struct SafetensorsContent {
  std::map<std::string, torch::Tensor> tensors;  // on the CPU
  std::map<std::string, std::string> metadata;
};

// Atomic write; tensors are copied to the CPU and written in the given order.
void write_safetensors(const std::filesystem::path& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata);
// derm::Error naming the file for a missing, truncated, foreign or malformed file.
SafetensorsContent read_safetensors(const std::filesystem::path& path);
// The "__metadata__" table alone (reads the header only).
std::map<std::string, std::string> read_safetensors_metadata(const std::filesystem::path& path);

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

InceptionV3Options inception_options(const Architecture& architecture);

struct Model {
  ModelMetadata metadata;
  InceptionV3 network;
};

// A freshly initialised network for the metadata (torchvision's initialisation).
Model create_model(const ModelMetadata& metadata);
// Floating-point tensors are stored as `storage`: float32, or float16 for half
// the bytes (load_model reads either into float32; e.g. to carry trained members
// where size is limited). derm::Error naming the tensor when a value does not fit
// float16's range, or for another storage type.
void save_model(const std::filesystem::path& path, Model& model, torch::ScalarType storage = torch::kFloat32);
// Reads the metadata, builds the network and loads the weights strictly; the
// network is in eval mode on `device`.
Model load_model(const std::filesystem::path& path, const torch::Device& device = torch::kCPU);
// The metadata alone (cheap: reads the header only).
ModelMetadata read_model_metadata(const std::filesystem::path& path);

}  // namespace derm
