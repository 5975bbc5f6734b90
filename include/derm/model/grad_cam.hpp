#pragma once
// Grad-CAM (Selvaraju et al. 2017): where a network looked for a class. The
// activations A of one layer, weighted per channel by the mean gradient of the
// class's logit over A's positions, summed over channels and passed through
// ReLU; normalised to a maximum of 1 (all zeros when nothing points to the class).
#include <string>

#include <torch/torch.h>

#include "derm/model/inception_v3.hpp"

namespace derm {

// x: 1 x 3 x S x S, normalised network input -> the layer's h x w map (float32,
// on x's device). `layer` is one of net->layer_names(); derm::Error otherwise.
// Gradients flow whatever the autograd mode around the call; the network's
// parameters get none.
torch::Tensor grad_cam(InceptionV3& net, const torch::Tensor& x, int64_t class_index, const std::string& layer);

}  // namespace derm
