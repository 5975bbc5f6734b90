#pragma once
// derm-model as library calls: describe a model file, make an untrained one,
// rewrite one with another weight storage. No LibTorch in this header.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "derm/core/enum_names.hpp"
#include "derm/core/image.hpp"

namespace derm {

// The metadata (to_json(ModelMetadata)) with the file's name, size in bytes,
// tensor count and floating-point values ("parameters_and_statistics").
nlohmann::json describe_model_file(const std::filesystem::path& path);

struct UntrainedModelOptions {
  std::vector<std::string> classes{"melanoma", "seborrheic_keratosis", "nevus"};
  int input_size = 299;  // != backbone_size adds the learned-resizer stem
  int backbone_size = 299;
  ResizePolicy resize_policy = ResizePolicy::squash;
  bool aux_logits = false;
  std::uint64_t seed = 0;
};

// A randomly initialised network whose provenance says it is UNTRAINED, for
// tests and demonstrations. derm::OptionError for classes or sizes no model can have.
void create_untrained_model(const std::filesystem::path& out, const UntrainedModelOptions& options);

enum class WeightStorage { float32, float16 };
template <>
struct EnumNames<WeightStorage> {
  static constexpr const char* what = "weight storage";
  static constexpr EnumName<WeightStorage> names[] = {{WeightStorage::float32, "float32"},
                                                      {WeightStorage::float16, "float16"}};
};

// The model of `in` written to `out` with its floating-point tensors stored as
// `storage` (float16: half the bytes; derm loads either as float32).
void convert_model(const std::filesystem::path& in, const std::filesystem::path& out, WeightStorage storage);

}  // namespace derm
