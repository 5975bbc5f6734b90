// derm-model: inspect derm model files, create an untrained one, or convert
// one's weight storage.
#include <cstdio>
#include <filesystem>
#include <optional>

#include <torch/torch.h>

#include "derm/error.hpp"
#include "derm/logging.hpp"
#include "derm/model_io.hpp"
#include "tool_main.hpp"

namespace {

namespace fs = std::filesystem;

struct CreateOptions {
  fs::path out;
  std::vector<std::string> classes{"melanoma", "seborrheic_keratosis", "nevus"};
  int input_size = 299;
  int backbone_size = 299;
  std::string resize_policy = "squash";
  bool aux_logits = false;
  std::uint64_t seed = 0;
};

int info(const std::vector<fs::path>& models) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& path : models) {
    const auto metadata = derm::read_model_metadata(path);
    const auto content = derm::read_safetensors(path);
    std::int64_t parameters = 0;
    for (const auto& [name, tensor] : content.tensors) parameters += tensor.is_floating_point() ? tensor.numel() : 0;
    auto entry = derm::to_json(metadata);
    entry["file"] = path.string();
    entry["bytes"] = fs::file_size(path);
    entry["tensors"] = content.tensors.size();
    entry["parameters_and_statistics"] = parameters;
    out.push_back(std::move(entry));
  }
  std::puts((models.size() == 1 ? out[0] : out).dump(2).c_str());
  return derm::cli::kExitOk;
}

int create(const CreateOptions& o) {
  derm::ModelMetadata m;
  if (o.classes.size() < 2) throw derm::OptionError("--classes needs at least two class names");
  try {
    derm::check_class_names(o.classes, "--classes");
  } catch (const derm::Error& e) {
    throw derm::OptionError(e.what());
  }
  m.architecture.num_classes = static_cast<int>(o.classes.size());
  m.architecture.aux_logits = o.aux_logits;
  m.architecture.input_size = o.input_size;
  m.architecture.backbone_size = o.backbone_size;
  m.preprocessing.input_size = o.input_size;
  m.preprocessing.resize_policy = derm::parse_resize_policy(o.resize_policy);
  m.classes = o.classes;
  m.provenance = {{"trained", false},
                  {"tool", "derm-model create"},
                  {"seed", o.seed},
                  {"note", "UNTRAINED: randomly initialised weights; predictions are meaningless"}};
  torch::manual_seed(o.seed);
  std::optional<derm::Model> model;
  try {
    model.emplace(derm::create_model(m));
  } catch (const derm::Error& e) {
    throw derm::OptionError(std::string(e.what()) + " (--input-size, --backbone-size, --aux-logits)");
  }
  derm::save_model(o.out, *model);
  std::fprintf(stderr, "derm-model: wrote %s (UNTRAINED, %zu classes, input %dx%d)\n", o.out.c_str(),
               o.classes.size(), o.input_size, o.input_size);
  return derm::cli::kExitOk;
}

struct ConvertOptions {
  fs::path in;
  fs::path out;
  std::string dtype = "float16";
};

int convert(const ConvertOptions& o) {
  const torch::ScalarType storage = o.dtype == "float16" ? torch::kFloat16 : torch::kFloat32;
  derm::Model model = derm::load_model(o.in);
  model.metadata.provenance["weights_stored_as"] = o.dtype;
  derm::save_model(o.out, model, storage);
  std::fprintf(stderr, "derm-model: wrote %s (%s weights, %ju bytes; %s had %ju)\n", o.out.c_str(), o.dtype.c_str(),
               static_cast<std::uintmax_t>(fs::file_size(o.out)), o.in.c_str(),
               static_cast<std::uintmax_t>(fs::file_size(o.in)));
  return derm::cli::kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Inspects derm model files (metadata, classes, preprocessing, provenance), creates an untrained\n"
               "model for tests and demonstrations, or rewrites a model with its weights stored as float16 (half the\n"
               "bytes; derm loads it as float32) or float32.",
               "derm-model"};
  app.set_version_flag("--version", "derm-model 0.1.0");
  // At most one; none is refused in the run below, so that an unknown word
  // is reported as such rather than as a missing command.
  app.require_subcommand(0, 1);
  std::vector<fs::path> models;
  auto* info_command = app.add_subcommand("info", "Print a model file's metadata as JSON");
  info_command->add_option("models", models, "Model files")->required();
  CreateOptions create_options;
  auto* create_command = app.add_subcommand("create", "Write a randomly initialised (UNTRAINED) model");
  create_command->add_option("out", create_options.out, "Model file to write (.safetensors)")->required();
  create_command->add_option("--classes", create_options.classes, "Class names; the last is the negative class")
      ->delimiter(',')
      ->capture_default_str();
  create_command->add_option("--input-size", create_options.input_size, "Input side (!= backbone adds the stem)")
      ->capture_default_str();
  create_command->add_option("--backbone-size", create_options.backbone_size, "Backbone input side")
      ->capture_default_str();
  create_command->add_option("--resize-policy", create_options.resize_policy, "squash, center_crop or pad")
      ->check(derm::cli::resize_policy_name())->capture_default_str();
  create_command->add_flag("--aux-logits", create_options.aux_logits, "With the auxiliary classifier");
  create_command->add_option("--seed", create_options.seed, "Initialisation seed")
      ->check(derm::cli::at_least(0))->capture_default_str();

  ConvertOptions convert_options;
  auto* convert_command = app.add_subcommand("convert", "Rewrite a model file with another weight storage type");
  convert_command->add_option("in", convert_options.in, "Model file to read")->required();
  convert_command->add_option("out", convert_options.out, "Model file to write")->required();
  convert_command->add_option("--dtype", convert_options.dtype, "float16 or float32")
      ->check(CLI::IsMember({"float16", "float32"}))
      ->capture_default_str();

  return derm::cli::run_tool(app, argc, argv, [&] {
    derm::configure_logging(derm::Verbosity::normal);
    if (info_command->parsed()) return info(models);
    if (convert_command->parsed()) return convert(convert_options);
    if (create_command->parsed()) return create(create_options);
    throw derm::OptionError("a command is required: info, create or convert");
  });
}
