#include "derm/infer/classifier.hpp"

#include <algorithm>
#include <cstdlib>

#include <opencv2/imgproc.hpp>

#include "derm/core/error.hpp"
#include "derm/core/parallel.hpp"
#include "derm/model/ensemble_folder.hpp"
#include "derm/model/grad_cam.hpp"
#include "derm/model/graphed_forward.hpp"
#include "derm/model/model_io.hpp"
#include "derm/model/network_outputs.hpp"
#include "derm/model/tensor_image.hpp"

namespace derm {
namespace fs = std::filesystem;

namespace {

// Every core, unless OMP_NUM_THREADS says otherwise (LibTorch's default follows it).
int default_threads() {
  if (std::getenv("OMP_NUM_THREADS") != nullptr) return torch::get_num_threads();
  return std::max(torch::get_num_threads(), available_cores());
}

}  // namespace

struct Classifier::State {
  torch::Device device{torch::kCPU};
  std::vector<Model> models;
  std::vector<std::unique_ptr<GraphedForward>> forwards;  // one per model, replayed one at a time
  std::shared_ptr<GraphedForward::Memory> graph_memory = GraphedForward::new_memory();
  std::vector<ModelMetadata> metadata;
  std::vector<fs::path> paths;
  std::vector<std::string> classes;
  std::vector<Preprocessing> preprocessings;  // distinct, in the order members first use them
  std::vector<std::size_t> preprocessing_of;  // per member, an index into preprocessings
};

Classifier::Classifier(const ClassifierOptions& options) : state_(std::make_unique<State>()) {
  if (options.threads < 0) throw OptionError("threads", "must be 0 (default) or positive");
  torch::set_num_threads(options.threads > 0 ? options.threads : default_threads());
  state_->device = parse_device(options.device);
  state_->paths = resolve_model_paths(options.models);
  for (const auto& path : state_->paths) {
    Model model = load_model(path, state_->device);
    if (InceptionV3Impl::inference_folds_batch_norm(state_->device)) model.network->fold_batch_norm();
    // On the CPU the network's oneDNN plan for its input size, made and run once now (warm-up at load).
    const int64_t side = model.metadata.preprocessing.input_size;
    if (state_->device.is_cpu()) model.network->prepare_cpu_inference(side, side);
    state_->forwards.push_back(std::make_unique<GraphedForward>(
        [network = model.network](const torch::Tensor& x) mutable { return network->forward(x); }, options.cuda_graphs,
        state_->graph_memory));
    if (state_->classes.empty()) {
      state_->classes = model.metadata.classes;
    } else if (model.metadata.classes != state_->classes) {
      throw Error(path.string() + ": its classes differ from those of " + state_->paths.front().string());
    }
    auto& distinct = state_->preprocessings;
    const auto same = std::find(distinct.begin(), distinct.end(), model.metadata.preprocessing);
    state_->preprocessing_of.push_back(static_cast<std::size_t>(same - distinct.begin()));
    if (same == distinct.end()) distinct.push_back(model.metadata.preprocessing);
    state_->metadata.push_back(model.metadata);
    state_->models.push_back(std::move(model));
  }
}

Classifier::~Classifier() = default;

const std::vector<std::string>& Classifier::classes() const { return state_->classes; }
const std::vector<ModelMetadata>& Classifier::members() const { return state_->metadata; }
const std::vector<fs::path>& Classifier::member_paths() const { return state_->paths; }
const std::vector<Preprocessing>& Classifier::preprocessings() const { return state_->preprocessings; }
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

Predictions Classifier::classify(const std::vector<cv::Mat>& rgb_images, const std::vector<std::string>& ids,
                                 int tta_views) {
  if (tta_views != 1 && tta_views != 2 && tta_views != 4 && tta_views != 8) {
    throw OptionError("tta_views", "must be 1, 2, 4 or 8 views, got " + std::to_string(tta_views));
  }
  if (ids.size() != rgb_images.size()) {
    throw Error("classify: " + std::to_string(ids.size()) + " ids for " + std::to_string(rgb_images.size()) +
                " images");
  }
  Predictions predictions;
  predictions.classes = state_->classes;
  predictions.ids = ids;
  predictions.member_probabilities.assign(state_->models.size(), {});
  predictions.member_logits.assign(state_->models.size(), {});
  if (rgb_images.empty()) return predictions;
  // Inference mode: no autograd bookkeeping at all (no version counters or view
  // tracking), as torch.inference_mode(); every tensor made here ends in `predictions`.
  c10::InferenceMode inference_mode;
  // Each image prepared once per distinct preprocessing, each view made once.
  std::vector<std::vector<torch::Tensor>> views(state_->preprocessings.size());
  for (std::size_t p = 0; p < views.size(); ++p) {
    const Preprocessing& preprocessing = state_->preprocessings[p];
    std::vector<torch::Tensor> inputs;
    inputs.reserve(rgb_images.size());
    for (const auto& rgb : rgb_images) inputs.push_back(to_chw_uint8(prepare_image(rgb, preprocessing)));
    const auto batch = normalize_batch(torch::stack(inputs).to(state_->device), preprocessing);
    for (int k = 0; k < tta_views; ++k) views[p].push_back(symmetry_view(batch, k));
  }
  for (std::size_t m = 0; m < state_->models.size(); ++m) {
    GraphedForward& forward = *state_->forwards[m];
    const auto& member_views = views[state_->preprocessing_of[m]];
    torch::Tensor logits, probabilities;
    for (const auto& view : member_views) {
      const auto view_logits = forward(view).to(torch::kFloat32);
      logits = logits.defined() ? logits + view_logits : view_logits;
      const auto view_probabilities = torch::softmax(view_logits, 1);
      probabilities = probabilities.defined() ? probabilities + view_probabilities : view_probabilities;
    }
    append_rows(predictions.member_logits[m], logits / tta_views);
    append_rows(predictions.member_probabilities[m], probabilities / tta_views);
  }
  return predictions;
}

Heatmap Classifier::heatmap(const cv::Mat& rgb, int class_index, const std::string& layer) {
  if (class_index < 0 || class_index >= static_cast<int>(state_->classes.size())) {
    throw Error("heatmap: class " + std::to_string(class_index) + " is not one of the " +
                std::to_string(state_->classes.size()) + " classes");
  }
  Heatmap heatmap;
  heatmap.class_name = state_->classes[static_cast<std::size_t>(class_index)];
  heatmap.layer = layer;
  heatmap.map = cv::Mat::zeros(rgb.size(), CV_32F);
  for (std::size_t m = 0; m < state_->models.size(); ++m) {
    Model& model = state_->models[m];
    const Preprocessing& p = model.metadata.preprocessing;
    const auto x = normalize_batch(to_chw_uint8(prepare_image(rgb, p)).unsqueeze(0).to(state_->device), p);
    const torch::Tensor cam = grad_cam(model.network, x, class_index, layer).cpu().contiguous();
    const cv::Mat layer_map(static_cast<int>(cam.size(0)), static_cast<int>(cam.size(1)), CV_32F, cam.data_ptr<float>());
    heatmap.member_maps.push_back(layer_map.clone());
    cv::Mat square;
    cv::resize(layer_map, square, cv::Size(p.input_size, p.input_size), 0, 0, cv::INTER_LINEAR);
    heatmap.map += square_to_image(square, rgb.size(), p.resize_policy);
  }
  heatmap.map /= static_cast<double>(state_->models.size());
  return heatmap;
}

}  // namespace derm
