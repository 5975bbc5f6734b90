#pragma once
// derm model files: a safetensors file (derm/model/safetensors.hpp) whose
// "__metadata__" holds the ModelMetadata as JSON under the key "derm". Any
// safetensors reader (Python's safetensors, numpy with a few lines) can open
// one; derm reads them strictly.
#include <filesystem>

#include <torch/torch.h>

#include "derm/model/inception_v3.hpp"
#include "derm/model/model_metadata.hpp"

namespace derm {

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
