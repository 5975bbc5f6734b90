#include "sharded_predictions.hpp"

#include "derm/infer/classify.hpp"

namespace derm {

namespace {

// Rows [member][image][class] as images x (members * classes).
torch::Tensor as_rows(const MemberScores& scores, std::size_t images, std::size_t members, std::size_t classes) {
  auto rows = torch::empty({static_cast<std::int64_t>(images), static_cast<std::int64_t>(members * classes)});
  auto a = rows.accessor<float, 2>();
  for (std::size_t m = 0; m < members && images > 0; ++m) {
    for (std::size_t i = 0; i < images; ++i) {
      for (std::size_t c = 0; c < classes; ++c) {
        a[static_cast<std::int64_t>(i)][static_cast<std::int64_t>(m * classes + c)] = scores[m][i][c];
      }
    }
  }
  return rows;
}

MemberScores from_rows(const torch::Tensor& rows, const torch::Tensor& order, std::size_t members,
                       std::size_t classes) {
  MemberScores scores(members, std::vector<std::vector<float>>(static_cast<std::size_t>(rows.size(0))));
  const auto a = rows.accessor<float, 2>();
  const auto where = order.accessor<std::int64_t, 1>();
  for (std::int64_t r = 0; r < rows.size(0); ++r) {
    for (std::size_t m = 0; m < members; ++m) {
      auto& row = scores[m][static_cast<std::size_t>(where[r])];
      for (std::size_t c = 0; c < classes; ++c) row.push_back(a[r][static_cast<std::int64_t>(m * classes + c)]);
    }
  }
  return scores;
}

}  // namespace

Predictions predict_entries_across(ProcessGroup& group, Classifier& classifier, const std::vector<ManifestEntry>& entries,
                                   int batch_size, int tta_views, int workers, bool quiet) {
  std::vector<ManifestEntry> mine;
  std::vector<std::int64_t> positions;
  const auto batch = static_cast<std::size_t>(batch_size);
  for (std::size_t start = static_cast<std::size_t>(group.rank()) * batch; start < entries.size();
       start += batch * static_cast<std::size_t>(group.size())) {
    for (std::size_t i = start; i < std::min(entries.size(), start + batch); ++i) {
      mine.push_back(entries[i]);
      positions.push_back(static_cast<std::int64_t>(i));
    }
  }
  const Predictions here = predict_entries(classifier, mine, batch_size, tta_views, workers, quiet);
  const std::size_t classes = classifier.classes().size();
  const std::size_t members = classifier.member_paths().size();
  const auto order = group.all_gather_rows(torch::tensor(positions, torch::kInt64), "all-gather of predictions");
  Predictions all;
  all.classes = classifier.classes();
  for (const auto& entry : entries) all.ids.push_back(entry.id);
  all.member_probabilities = from_rows(
      group.all_gather_rows(as_rows(here.member_probabilities, mine.size(), members, classes), "all-gather of predictions"),
      order, members, classes);
  all.member_logits = from_rows(
      group.all_gather_rows(as_rows(here.member_logits, mine.size(), members, classes), "all-gather of predictions"), order,
      members, classes);
  return all;
}

}  // namespace derm
