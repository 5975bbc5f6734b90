#include "validation.hpp"

#include <algorithm>

#include "derm/metrics/ensemble.hpp"
#include "derm/metrics/metrics.hpp"
#include "derm/model/autocast.hpp"
#include "derm/model/network_outputs.hpp"
#include "derm/model/tensor_image.hpp"

namespace derm {

Validation validate_member(InceptionV3& net, const TrainingSet& val, const ModelMetadata& metadata,
                           const torch::Device& device, int batch_size, bool autocast) {
  torch::NoGradGuard no_grad;
  net->eval();
  Predictions predictions;
  predictions.classes = metadata.classes;
  predictions.member_probabilities.assign(1, {});
  double loss_sum = 0;
  for (std::size_t start = 0; start < val.size(); start += static_cast<std::size_t>(batch_size)) {
    std::vector<std::size_t> indices;
    for (std::size_t i = start; i < std::min(val.size(), start + batch_size); ++i) indices.push_back(i);
    const auto x = normalize_batch(val.batch(indices, {}).to(device), metadata.preprocessing);
    torch::Tensor logits;
    {
      Bf16Autocast cast(autocast, device);
      logits = net->forward(x).to(torch::kFloat32);
    }
    std::vector<int64_t> y;
    for (auto i : indices) y.push_back(val.labels()[i]);
    const auto target = torch::tensor(y, torch::kInt64).to(device);
    loss_sum += torch::nn::functional::cross_entropy(
                    logits, target, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
    append_rows(predictions.member_probabilities[0], torch::softmax(logits, 1));
    for (auto i : indices) predictions.ids.push_back(std::to_string(i));
  }
  Validation v;
  v.loss = loss_sum / static_cast<double>(val.size());
  v.accuracy = multiclass_accuracy(val.labels(), predicted_classes(predictions, DecisionRule::mean_probability));
  const PositiveClassAucs aucs = positive_class_aucs(predictions, val.labels(), DecisionRule::mean_probability);
  v.auc = aucs.by_class;
  v.mean_auc = aucs.mean;
  return v;
}

}  // namespace derm
