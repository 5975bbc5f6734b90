#pragma once
// A network's outputs (logits, probabilities) as the rows of derm::Predictions.
#include <vector>

#include <torch/torch.h>

namespace derm {

// Appends the N rows of an N x C tensor (any device, any floating type) to
// `rows` as float vectors of C values.
void append_rows(std::vector<std::vector<float>>& rows, const torch::Tensor& values);

}  // namespace derm
