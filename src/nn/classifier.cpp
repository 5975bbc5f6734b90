#include "derm/classifier.hpp"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "derm/atomic_file.hpp"
#include "derm/error.hpp"
#include "derm/graphed_forward.hpp"
#include "derm/model_io.hpp"
#include "derm/tensor_image.hpp"

namespace derm {
namespace fs = std::filesystem;

std::vector<fs::path> resolve_model_paths(const std::vector<fs::path>& models) {
  std::vector<fs::path> paths;
  for (const auto& model : models) {
    if (!fs::is_directory(model)) {
      paths.push_back(model);
      continue;
    }
    const fs::path listing = model / kEnsembleFile;
    std::vector<fs::path> members;
    if (fs::exists(listing)) {
      try {
        const auto ensemble = nlohmann::json::parse(read_file(listing));
        for (const auto& name : ensemble.at("members")) {
          members.push_back(model / name.get<std::string>());
        }
      } catch (const nlohmann::json::exception& e) {
        throw Error(listing.string() + ": malformed ensemble file (" + e.what() + ")");
      }
    } else if (fs::exists(model / "train-log.jsonl")) {
      throw Error(model.string() + ": derm-train folder without " + kEnsembleFile +
                  " (not every member is trained yet); give member files with --model to use some");
    } else {
      for (const auto& entry : fs::directory_iterator(model)) {
        if (entry.path().extension() == ".safetensors") members.push_back(entry.path());
      }
      std::sort(members.begin(), members.end());
    }
    if (members.empty()) throw Error(model.string() + ": folder holds no model (no ensemble.json or *.safetensors)");
    paths.insert(paths.end(), members.begin(), members.end());
  }
  if (paths.empty()) throw Error("no model given (use --model)");
  std::set<fs::path> seen;
  for (const auto& path : paths) {
    if (!seen.insert(file_identity(path)).second) {
      throw OptionError(path.string() + ": model given twice (it would vote twice)");
    }
  }
  return paths;
}

struct Classifier::State {
  torch::Device device{torch::kCPU};
  std::vector<Model> models;
  std::vector<std::unique_ptr<GraphedForward>> forwards;  // one per model, replayed one at a time
  std::shared_ptr<GraphedForward::Memory> graph_memory = GraphedForward::new_memory();
  std::vector<ModelMetadata> metadata;
  std::vector<fs::path> paths;
  std::vector<std::string> classes;
};

Classifier::Classifier(const ClassifierOptions& options) : state_(std::make_unique<State>()) {
  if (options.threads < 0) throw OptionError("--threads must be 0 (default) or positive");
  if (options.threads > 0) torch::set_num_threads(options.threads);
  state_->device = parse_device(options.device);
  state_->paths = resolve_model_paths(options.models);
  for (const auto& path : state_->paths) {
    Model model = load_model(path, state_->device);
    if (InceptionV3Impl::inference_folds_batch_norm(state_->device)) model.network->fold_batch_norm();
    state_->forwards.push_back(std::make_unique<GraphedForward>(
        [network = model.network](const torch::Tensor& x) mutable { return network->forward(x); }, options.cuda_graphs,
        state_->graph_memory));
    if (state_->classes.empty()) {
      state_->classes = model.metadata.classes;
    } else if (model.metadata.classes != state_->classes) {
      throw Error(path.string() + ": its classes differ from those of " + state_->paths.front().string());
    }
    state_->metadata.push_back(model.metadata);
    state_->models.push_back(std::move(model));
  }
}

Classifier::~Classifier() = default;

const std::vector<std::string>& Classifier::classes() const { return state_->classes; }
const std::vector<ModelMetadata>& Classifier::members() const { return state_->metadata; }
const std::vector<fs::path>& Classifier::member_paths() const { return state_->paths; }
bool Classifier::untrained() const {
  return std::any_of(state_->metadata.begin(), state_->metadata.end(),
                     [](const ModelMetadata& member) { return !member.trained(); });
}
std::string Classifier::device() const { return state_->device.str(); }

namespace {

// View k of the 8 symmetries of the square: bit 0 mirrors horizontally, bit 1
// vertically, bit 2 transposes (with the mirrors, the 90-degree rotations).
torch::Tensor symmetry_view(const torch::Tensor& batch, int k) {
  torch::Tensor view = batch;
  if (k & 1) view = view.flip({3});
  if (k & 2) view = view.flip({2});
  if (k & 4) view = view.transpose(2, 3);
  return view;
}

}  // namespace

std::vector<std::vector<MemberOutput>> Classifier::classify(const std::vector<cv::Mat>& rgb_images, int tta_views) {
  if (tta_views != 1 && tta_views != 2 && tta_views != 4 && tta_views != 8) {
    throw OptionError("--tta must be 1, 2, 4 or 8 views, got " + std::to_string(tta_views));
  }
  std::vector<std::vector<MemberOutput>> results(rgb_images.size());
  if (rgb_images.empty()) return results;
  // Inference mode: no autograd bookkeeping at all (no version counters or view
  // tracking), as torch.inference_mode(); every tensor made here ends in `results`.
  c10::InferenceMode inference_mode;
  for (std::size_t m = 0; m < state_->models.size(); ++m) {
    const Model& model = state_->models[m];
    GraphedForward& forward = *state_->forwards[m];
    const Preprocessing& p = model.metadata.preprocessing;
    std::vector<torch::Tensor> inputs;
    inputs.reserve(rgb_images.size());
    for (const auto& rgb : rgb_images) inputs.push_back(to_chw_uint8(prepare_image(rgb, p)));
    const auto batch = normalize_batch(torch::stack(inputs).to(state_->device), p);
    torch::Tensor logits = torch::zeros({batch.size(0), model.metadata.architecture.num_classes},
                                        torch::TensorOptions().device(state_->device));
    torch::Tensor probabilities = torch::zeros_like(logits);
    for (int k = 0; k < tta_views; ++k) {
      const auto view_logits = forward(symmetry_view(batch, k)).to(torch::kFloat32);
      logits += view_logits;
      probabilities += torch::softmax(view_logits, 1);
    }
    logits = (logits / tta_views).cpu().contiguous();
    probabilities = (probabilities / tta_views).cpu().contiguous();
    for (std::size_t i = 0; i < rgb_images.size(); ++i) {
      const float* l = logits[static_cast<int64_t>(i)].data_ptr<float>();
      const float* q = probabilities[static_cast<int64_t>(i)].data_ptr<float>();
      const auto n = static_cast<std::size_t>(logits.size(1));
      results[i].push_back(MemberOutput{std::vector<float>(l, l + n), std::vector<float>(q, q + n)});
    }
  }
  return results;
}

}  // namespace derm
