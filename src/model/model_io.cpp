#include "derm/model/model_io.hpp"

#include "derm/core/error.hpp"
#include "derm/model/safetensors.hpp"
#include "derm/model/state_dict.hpp"

namespace derm {
namespace fs = std::filesystem;

namespace {

constexpr const char* kMetadataKey = "derm";

}  // namespace

InceptionV3Options inception_options(const Architecture& a) {
  InceptionV3Options options;
  options.num_classes = a.num_classes;
  options.aux_logits = a.aux_logits;
  options.transform_input = a.transform_input;
  options.dropout = a.dropout;
  options.input_size = a.input_size;
  options.backbone_size = a.backbone_size;
  options.stem_channels = a.stem_channels;
  return options;
}

namespace {

// origin: "FILE: " for a model file, "" for metadata made here.
void check_architecture(const Architecture& a, const std::string& origin) {
  const auto fail = [&](const std::string& what) { throw Error(origin + what); };
  if (a.backbone_size < 75) {
    fail("backbone_size " + std::to_string(a.backbone_size) + " is below Inception v3's minimum of 75");
  }
  if (a.aux_logits && a.backbone_size < 299) {
    fail("aux_logits needs a backbone_size of at least 299, not " + std::to_string(a.backbone_size));
  }
  if (a.input_size < 32) fail("input_size " + std::to_string(a.input_size) + " is below 32");
  for (const auto& [name, size] : {std::pair{"input_size", a.input_size}, std::pair{"backbone_size", a.backbone_size}}) {
    if (size > kMaxInputSize) {
      fail(std::string(name) + " " + std::to_string(size) + " is above " + std::to_string(kMaxInputSize));
    }
  }
}

}  // namespace

Model create_model(const ModelMetadata& metadata) {
  check_architecture(metadata.architecture, "");
  return Model{metadata, InceptionV3(inception_options(metadata.architecture))};
}

void save_model(const fs::path& path, Model& model, torch::ScalarType storage) {
  if (storage != torch::kFloat32 && storage != torch::kFloat16) {
    throw Error(path.string() + ": model weights are stored as float32 or float16, not " + c10::toString(storage));
  }
  NamedTensors tensors = state_dict(*model.network);
  if (storage != torch::kFloat32) {
    torch::NoGradGuard no_grad;
    for (auto& [name, tensor] : tensors) {
      if (!tensor.is_floating_point()) continue;
      tensor = tensor.to(storage);
      if (!tensor.isfinite().all().item<bool>()) {
        throw Error(path.string() + ": tensor '" + name + "' has values outside " + c10::toString(storage) +
                    "'s range");
      }
    }
  }
  write_safetensors(path, tensors, {{kMetadataKey, to_json(model.metadata).dump()}});
}

namespace {

ModelMetadata metadata_from_table(const std::map<std::string, std::string>& metadata, const fs::path& path) {
  const auto it = metadata.find(kMetadataKey);
  if (it == metadata.end()) throw Error(path.string() + ": not a derm model file (no derm metadata)");
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(it->second);
  } catch (const nlohmann::json::exception&) {
    throw Error(path.string() + ": malformed derm metadata");
  }
  return model_metadata_from_json(json, path.string());
}

}  // namespace

ModelMetadata read_model_metadata(const fs::path& path) {
  return metadata_from_table(read_safetensors_metadata(path), path);
}

Model load_model(const fs::path& path, const torch::Device& device) {
  SafetensorsContent content = read_safetensors(path);
  const ModelMetadata metadata = metadata_from_table(content.metadata, path);
  check_architecture(metadata.architecture, path.string() + ": ");
  InceptionV3Options options = inception_options(metadata.architecture);
  options.initialise_weights = false;  // every tensor is loaded below
  Model model{metadata, InceptionV3(options)};
  // The tensors read from the file become the network's: no copy of the weights.
  load_state_dict_strict(*model.network, std::move(content.tensors), {}, path.string());
  model.network->to(device);
  model.network->eval();
  return model;
}

}  // namespace derm
