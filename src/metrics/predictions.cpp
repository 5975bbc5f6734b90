#include "derm/metrics/predictions.hpp"

#include "derm/core/error.hpp"

namespace derm {
namespace {

void append_rows(MemberScores& to, const MemberScores& more) {
  if (to.empty()) to.resize(more.size());
  for (std::size_t m = 0; m < more.size(); ++m) to[m].insert(to[m].end(), more[m].begin(), more[m].end());
}

}  // namespace

void Predictions::append(const Predictions& more) {
  if (ids.empty() && classes.empty()) classes = more.classes;
  if (more.classes != classes || (!ids.empty() && more.members() != members()) ||
      (!ids.empty() && more.member_logits.empty() != member_logits.empty())) {
    throw Error("predictions: cannot append predictions of other classes or members");
  }
  ids.insert(ids.end(), more.ids.begin(), more.ids.end());
  append_rows(member_probabilities, more.member_probabilities);
  append_rows(member_logits, more.member_logits);
}

Predictions Predictions::image(std::size_t i) const {
  if (i >= images()) throw Error("predictions: no image " + std::to_string(i) + " of " + std::to_string(images()));
  Predictions one;
  one.classes = classes;
  one.ids = {ids[i]};
  for (const auto& member : member_probabilities) one.member_probabilities.push_back({member.at(i)});
  for (const auto& member : member_logits) one.member_logits.push_back({member.at(i)});
  return one;
}

}  // namespace derm
