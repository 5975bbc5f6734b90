#pragma once
// derm-train's loss on one head's logits.
#include <torch/torch.h>

namespace derm {

// Cross-entropy with label smoothing and, when class_weights is defined, class
// weights; the mean as PyTorch's reduction "mean" defines it: the sum of the
// images' (weighted) losses over the sum of their classes' weights. With
// weights it is written out, because PyTorch's weighted, smoothed mean reads
// the targets back to the host (masked_select), which a CUDA graph recording
// of the step cannot do.
torch::Tensor mean_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets, double label_smoothing,
                                 const torch::Tensor& class_weights);

// The images' (weighted) losses summed, for a micro-batch's share of its whole
// batch's mean: divided by the whole batch's sum of weights (or its size).
torch::Tensor summed_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets, double label_smoothing,
                                   const torch::Tensor& class_weights);

}  // namespace derm
