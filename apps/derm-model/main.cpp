// derm-model: inspect derm model files, create an untrained one, or convert
// one's weight storage.
#include <cstdio>
#include <filesystem>

#include "derm/core/error.hpp"
#include "derm/core/logging.hpp"
#include "derm/model/model_files.hpp"
#include "derm/version.hpp"
#include "tool_main.hpp"

namespace {

namespace fs = std::filesystem;

struct CreateCommand {
  fs::path out;
  derm::UntrainedModelOptions model;
  std::string resize_policy = "squash";
};

struct ConvertCommand {
  fs::path in;
  fs::path out;
  std::string dtype = "float16";
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Inspects derm model files (metadata, classes, preprocessing, provenance), creates an untrained\n"
               "model for tests and demonstrations, or rewrites a model with its weights stored as float16 (half the\n"
               "bytes; derm loads it as float32) or float32.",
               "derm-model"};
  app.set_version_flag("--version", std::string("derm-model ") + DERM_VERSION);
  // At most one; none is refused in the run below, so that an unknown word
  // is reported as such rather than as a missing command.
  app.require_subcommand(0, 1);
  std::vector<fs::path> models;
  auto* info_command = app.add_subcommand("info", "Print a model file's metadata as JSON");
  info_command->add_option("models", models, "Model files")->required();

  CreateCommand create;
  auto* create_command = app.add_subcommand("create", "Write a randomly initialised (UNTRAINED) model");
  create_command->add_option("out", create.out, "Model file to write (.safetensors)")->required();
  create_command->add_option("--classes", create.model.classes, "Class names; the last is the negative class")
      ->delimiter(',')
      ->capture_default_str();
  create_command->add_option("--input-size", create.model.input_size, "Input side (!= backbone adds the stem)")
      ->capture_default_str();
  create_command->add_option("--backbone-size", create.model.backbone_size, "Backbone input side")
      ->capture_default_str();
  create_command->add_option("--resize-policy", create.resize_policy, "squash, center_crop or pad")
      ->check(derm::cli::enum_name<derm::ResizePolicy>())->capture_default_str();
  create_command->add_flag("--aux-logits", create.model.aux_logits, "With the auxiliary classifier");
  create_command->add_option("--seed", create.model.seed, "Initialisation seed")
      ->check(derm::cli::at_least(0))->capture_default_str();

  ConvertCommand convert;
  auto* convert_command = app.add_subcommand("convert", "Rewrite a model file with another weight storage type");
  convert_command->add_option("in", convert.in, "Model file to read")->required();
  convert_command->add_option("out", convert.out, "Model file to write")->required();
  convert_command->add_option("--dtype", convert.dtype, "float16 or float32")
      ->check(derm::cli::enum_name<derm::WeightStorage>())
      ->capture_default_str();

  const auto run = [&] {
    derm::configure_logging(derm::Verbosity::normal);
    if (info_command->parsed()) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& path : models) out.push_back(derm::describe_model_file(path));
      std::puts((models.size() == 1 ? out[0] : out).dump(2).c_str());
    } else if (convert_command->parsed()) {
      derm::convert_model(convert.in, convert.out, derm::parse_enum<derm::WeightStorage>(convert.dtype, "dtype"));
      std::fprintf(stderr, "derm-model: wrote %s (%s weights, %ju bytes; %s had %ju)\n", convert.out.c_str(),
                   convert.dtype.c_str(), static_cast<std::uintmax_t>(fs::file_size(convert.out)),
                   convert.in.c_str(), static_cast<std::uintmax_t>(fs::file_size(convert.in)));
    } else if (create_command->parsed()) {
      create.model.resize_policy = derm::parse_enum<derm::ResizePolicy>(create.resize_policy, "resize_policy");
      derm::create_untrained_model(create.out, create.model);
      std::fprintf(stderr, "derm-model: wrote %s (UNTRAINED, %zu classes, input %dx%d)\n", create.out.c_str(),
                   create.model.classes.size(), create.model.input_size, create.model.input_size);
    } else {
      throw derm::OptionError("command", "a {command} is required: info, create or convert");
    }
    return derm::cli::kExitOk;
  };
  return derm::cli::run_tool(app, argc, argv, run, {{"command", "command"}});
}
