#include "training_loss.hpp"

namespace derm {

namespace F = torch::nn::functional;

torch::Tensor mean_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets, double label_smoothing,
                                 const torch::Tensor& class_weights) {
  auto options = F::CrossEntropyFuncOptions().label_smoothing(label_smoothing);
  if (!class_weights.defined()) return F::cross_entropy(logits, targets, options);
  const auto per_image = F::cross_entropy(logits, targets, options.weight(class_weights).reduction(torch::kNone));
  return per_image.sum() / class_weights.index_select(0, targets).sum();
}

torch::Tensor summed_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets, double label_smoothing,
                                   const torch::Tensor& class_weights) {
  auto options = F::CrossEntropyFuncOptions().label_smoothing(label_smoothing).reduction(torch::kSum);
  if (class_weights.defined()) options.weight(class_weights);
  return F::cross_entropy(logits, targets, options);
}

}  // namespace derm
