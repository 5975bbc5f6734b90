#include "derm/model/model_files.hpp"

#include <optional>

#include "derm/core/error.hpp"
#include "derm/model/model_io.hpp"
#include "derm/model/safetensors.hpp"

namespace derm {
namespace fs = std::filesystem;

nlohmann::json describe_model_file(const fs::path& path) {
  const ModelMetadata metadata = read_model_metadata(path);
  const SafetensorsContent content = read_safetensors(path);
  std::int64_t values = 0;
  for (const auto& [name, tensor] : content.tensors) values += tensor.is_floating_point() ? tensor.numel() : 0;
  nlohmann::json description = to_json(metadata);
  description["file"] = path.string();
  description["bytes"] = fs::file_size(path);
  description["tensors"] = content.tensors.size();
  description["parameters_and_statistics"] = values;
  return description;
}

void create_untrained_model(const fs::path& out, const UntrainedModelOptions& o) {
  if (o.classes.size() < 2) throw OptionError("classes", "needs at least two class names");
  if (const std::string problem = class_names_problem(o.classes); !problem.empty()) {
    throw OptionError("classes", ": " + problem);
  }
  ModelMetadata m;
  m.architecture.num_classes = static_cast<int>(o.classes.size());
  m.architecture.aux_logits = o.aux_logits;
  m.architecture.input_size = o.input_size;
  m.architecture.backbone_size = o.backbone_size;
  m.preprocessing.input_size = o.input_size;
  m.preprocessing.resize_policy = o.resize_policy;
  m.classes = o.classes;
  m.provenance = {{"trained", false},
                  {"tool", "derm-model create"},
                  {"seed", o.seed},
                  {"note", "UNTRAINED: randomly initialised weights; predictions are meaningless"}};
  torch::manual_seed(o.seed);
  std::optional<Model> model;
  try {
    model.emplace(create_model(m));
  } catch (const Error& e) {
    throw OptionError("input_size", std::string(e.what()) + " ({input_size}, {backbone_size}, {aux_logits})");
  }
  save_model(out, *model);
}

void convert_model(const fs::path& in, const fs::path& out, WeightStorage storage) {
  Model model = load_model(in);
  model.metadata.provenance["weights_stored_as"] = name_of(storage);
  save_model(out, model, storage == WeightStorage::float16 ? torch::kFloat16 : torch::kFloat32);
}

}  // namespace derm
