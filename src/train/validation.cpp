#include "validation.hpp"

#include <algorithm>

#include "derm/metrics/ensemble.hpp"
#include "derm/metrics/metrics.hpp"
#include "derm/model/autocast.hpp"
#include "derm/model/network_outputs.hpp"
#include "derm/model/tensor_image.hpp"

namespace derm {

Validation validate_member(InceptionV3& net, const TrainingSet& val, const ModelMetadata& metadata,
                           const torch::Device& device, int batch_size, bool autocast, ProcessGroup* group) {
  torch::NoGradGuard no_grad;
  net->eval();
  std::vector<torch::Tensor> probabilities;
  std::vector<std::int64_t> rows;  // the probabilities' image indices
  auto loss_sum = torch::zeros({1}, torch::kFloat64);
  std::int64_t batch = 0;
  for (std::size_t start = 0; start < val.size(); start += static_cast<std::size_t>(batch_size), ++batch) {
    if (group && batch % group->size() != group->rank()) continue;
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
                    .to(torch::kCPU, torch::kFloat64);
    probabilities.push_back(torch::softmax(logits, 1).cpu());
    for (auto i : indices) rows.push_back(static_cast<std::int64_t>(i));
  }
  auto all = probabilities.empty() ? torch::empty({0, static_cast<std::int64_t>(metadata.classes.size())})
                                   : torch::cat(probabilities);
  if (group) {
    // Every rank's rows, back in the images' order.
    group->all_reduce_sum(loss_sum, "all-reduce of the validation loss");
    const auto order = group->all_gather_rows(torch::tensor(rows, torch::kInt64), "all-gather of validation rows");
    const auto gathered = group->all_gather_rows(all, "all-gather of validation probabilities");
    all = torch::empty_like(gathered);
    all.index_copy_(0, order, gathered);
  }
  Predictions predictions;
  predictions.classes = metadata.classes;
  predictions.member_probabilities.assign(1, {});
  append_rows(predictions.member_probabilities[0], all);
  for (std::size_t i = 0; i < val.size(); ++i) predictions.ids.push_back(std::to_string(i));
  Validation v;
  v.loss = loss_sum.item<double>() / static_cast<double>(val.size());
  v.accuracy = multiclass_accuracy(val.labels(), predicted_classes(predictions, DecisionRule::mean_probability));
  const PositiveClassAucs aucs = positive_class_aucs(predictions, val.labels(), DecisionRule::mean_probability);
  v.auc = aucs.by_class;
  v.mean_auc = aucs.mean;
  return v;
}

}  // namespace derm
