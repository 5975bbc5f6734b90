#pragma once
// safetensors files: an 8-byte little-endian header length, a JSON header
// (each tensor's dtype, shape and data offsets, plus a "__metadata__" table of
// strings), then the raw little-endian tensor data.
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

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

}  // namespace derm
