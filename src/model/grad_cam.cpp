#include "derm/model/grad_cam.hpp"

#include <algorithm>

#include "derm/core/error.hpp"

namespace derm {

torch::Tensor grad_cam(InceptionV3& net, const torch::Tensor& x, int64_t class_index, const std::string& layer) {
  const auto layers = net->layer_names();
  if (std::find(layers.begin(), layers.end(), layer) == layers.end()) {
    throw OptionError("heatmap_layer", "'" + layer + "' is not a layer of the network");
  }
  if (class_index < 0 || class_index >= net->options.num_classes) {
    throw Error("grad_cam: class " + std::to_string(class_index) + " is not one of the network's " +
                std::to_string(net->options.num_classes));
  }
  const torch::AutoGradMode grad_mode(true);
  // An input that wants its gradient puts the kept layer in the graph even when no parameter does.
  const InceptionV3Output out = net->forward_with_aux(x.detach().requires_grad_(), layer);
  // 1 x C x h x w, and the gradient of the class's logit over it
  const torch::Tensor& activations = out.kept;
  const torch::Tensor gradients = torch::autograd::grad({out.logits[0][class_index]}, {activations})[0];
  const torch::Tensor weights = gradients.mean({2, 3}, /*keepdim=*/true);
  // h x w
  const torch::Tensor cam = (weights * activations).sum(1)[0].relu().detach().to(torch::kFloat32);
  const torch::Tensor peak = cam.max();
  return peak.item<float>() > 0 ? cam / peak : cam;
}

}  // namespace derm
