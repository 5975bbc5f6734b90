#include "derm/metrics/ensemble.hpp"

#include <cmath>

#include <gtest/gtest.h>

#include "derm/core/error.hpp"

namespace derm {
namespace {

// One image, members given as their probability rows.
Predictions one_image(const std::vector<std::vector<float>>& member_rows) {
  Predictions predictions;
  predictions.classes = {"melanoma", "seborrheic_keratosis", "nevus"};
  predictions.ids = {"img"};
  for (const auto& row : member_rows) predictions.member_probabilities.push_back({row});
  return predictions;
}

TEST(DefaultPositiveClasses, AllButTheLast) {
  EXPECT_EQ(default_positive_classes({"melanoma", "seborrheic_keratosis", "nevus"}),
            (std::vector<std::string>{"melanoma", "seborrheic_keratosis"}));
  EXPECT_EQ(default_positive_classes({"melanoma", "benign"}), (std::vector<std::string>{"melanoma"}));
  EXPECT_THROW(default_positive_classes({"melanoma"}), Error);
}

TEST(MajorityVote, MostVotesWinsEvenAgainstTheMean) {
  // Votes 0,0,1: majority says 0; mean is (.267, .567, .167): mean rule says 1.
  const Predictions p = one_image({{0.4f, 0.35f, 0.25f}, {0.4f, 0.35f, 0.25f}, {0.0f, 1.0f, 0.0f}});
  EXPECT_EQ(predicted_classes(p, DecisionRule::majority_vote), std::vector<int>{0});
  EXPECT_EQ(predicted_classes(p, DecisionRule::mean_probability), std::vector<int>{1});
  EXPECT_NEAR(one_vs_rest_scores(p, DecisionRule::majority_vote, 0)[0], 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(one_vs_rest_scores(p, DecisionRule::majority_vote, 1)[0], 1.0 / 3.0, 1e-12);
  EXPECT_DOUBLE_EQ(one_vs_rest_scores(p, DecisionRule::majority_vote, 2)[0], 0.0);
  EXPECT_NEAR(one_vs_rest_scores(p, DecisionRule::mean_probability, 1)[0], 1.7 / 3.0, 1e-6);
}

TEST(MajorityVote, TieInVotesGoesToTheHigherMeanProbability) {
  // Two votes each for classes 0 and 1; mean of class 1 = .55 > mean of class 0 = .35.
  const Predictions to_one =
      one_image({{0.6f, 0.3f, 0.1f}, {0.5f, 0.4f, 0.1f}, {0.1f, 0.8f, 0.1f}, {0.2f, 0.7f, 0.1f}});
  EXPECT_EQ(predicted_classes(to_one, DecisionRule::majority_vote), std::vector<int>{1});
  // Same votes, but now class 0's mean (.5) beats class 1's (.425): not decided by index.
  const Predictions to_zero =
      one_image({{0.6f, 0.3f, 0.1f}, {0.5f, 0.4f, 0.1f}, {0.45f, 0.5f, 0.05f}, {0.45f, 0.5f, 0.05f}});
  EXPECT_EQ(predicted_classes(to_zero, DecisionRule::majority_vote), std::vector<int>{0});
}

TEST(MajorityDecision, MoreThanHalfOfTheMembersAtOrAboveTheThreshold) {
  const Predictions five = one_image(
      {{0.9f, 0.05f, 0.05f}, {0.6f, 0.2f, 0.2f}, {0.5f, 0.2f, 0.3f}, {0.2f, 0.2f, 0.6f}, {0.1f, 0.1f, 0.8f}});
  EXPECT_TRUE(one_vs_rest_decisions(five, DecisionRule::majority_vote, 0, 0.5)[0]);    // 3 of 5
  EXPECT_FALSE(one_vs_rest_decisions(five, DecisionRule::majority_vote, 0, 0.55)[0]);  // 2 of 5
  EXPECT_DOUBLE_EQ(majority_threshold_scores(five, 0)[0], 0.5);                       // 3rd largest

  const Predictions four = one_image({{0.9f, 0.05f, 0.05f}, {0.6f, 0.2f, 0.2f}, {0.5f, 0.2f, 0.3f}, {0.2f, 0.2f, 0.6f}});
  EXPECT_TRUE(one_vs_rest_decisions(four, DecisionRule::majority_vote, 0, 0.5)[0]);   // 3 of 4
  EXPECT_FALSE(one_vs_rest_decisions(four, DecisionRule::majority_vote, 0, 0.6)[0]);  // 2 of 4 is not more than half
  // The mean (.55) decides differently at .56.
  EXPECT_FALSE(one_vs_rest_decisions(four, DecisionRule::mean_probability, 0, 0.56)[0]);
  EXPECT_TRUE(one_vs_rest_decisions(four, DecisionRule::mean_probability, 0, 0.55 - 1e-6)[0]);
}

TEST(CheckPredictions, RejectsMalformedEnsembles) {
  Predictions ragged = one_image({{0.5f, 0.5f}});
  EXPECT_THROW(check_predictions(ragged), Error);
  Predictions none = one_image({});
  EXPECT_THROW(check_predictions(none), Error);
  Predictions nan = one_image({{std::numeric_limits<float>::quiet_NaN(), 0.5f, 0.5f}});
  EXPECT_THROW(mean_probabilities(nan), Error);
}

TEST(MemberPredictions, IsTheMemberAlone) {
  const Predictions p = one_image({{0.4f, 0.35f, 0.25f}, {0.0f, 1.0f, 0.0f}});
  const Predictions second = member_predictions(p, 1);
  EXPECT_EQ(second.members(), 1u);
  EXPECT_EQ(predicted_classes(second, DecisionRule::majority_vote), std::vector<int>{1});
  EXPECT_THROW(member_predictions(p, 2), Error);
}

TEST(Decide, CountsTheVotesOnceForEveryDecision) {
  // Image 0 as in MostVotesWinsEvenAgainstTheMean; image 1: two votes for class 2.
  Predictions p = one_image({{0.4f, 0.35f, 0.25f}, {0.4f, 0.35f, 0.25f}, {0.0f, 1.0f, 0.0f}});
  p.ids.push_back("img2");
  p.member_probabilities[0].push_back({0.1f, 0.1f, 0.8f});
  p.member_probabilities[1].push_back({0.7f, 0.2f, 0.1f});
  p.member_probabilities[2].push_back({0.2f, 0.1f, 0.7f});
  const EnsembleDecisions d = decide(p);
  EXPECT_EQ(d.member_classes, (std::vector<std::vector<int>>{{0, 0, 1}, {2, 0, 2}}));
  EXPECT_EQ(d.votes, (std::vector<std::vector<int>>{{2, 1, 0}, {1, 0, 2}}));
  EXPECT_EQ(d.majority_vote, (std::vector<int>{0, 2}));
  EXPECT_EQ(d.mean_probability, (std::vector<int>{1, 2}));
  EXPECT_EQ(d.mean_probabilities, mean_probabilities(p));
  EXPECT_EQ(d.majority_vote, predicted_classes(p, DecisionRule::majority_vote));
  EXPECT_EQ(d.mean_probability, predicted_classes(p, DecisionRule::mean_probability));
}

TEST(PositiveClassAucs, EachPositiveClassWithBothLabelsAndTheirMean) {
  // Two images of each class; one member whose scores rank melanoma perfectly
  // and seborrheic keratosis but for one pair.
  Predictions p;
  p.classes = {"melanoma", "seborrheic_keratosis", "nevus"};
  p.ids = {"a", "b", "c", "d", "e", "f"};
  p.member_probabilities = {{{0.8f, 0.1f, 0.1f},
                             {0.7f, 0.2f, 0.1f},
                             {0.1f, 0.6f, 0.3f},
                             {0.2f, 0.3f, 0.5f},
                             {0.1f, 0.4f, 0.5f},
                             {0.2f, 0.2f, 0.6f}}};
  const std::vector<int> labels{0, 0, 1, 1, 2, 2};
  const PositiveClassAucs aucs = positive_class_aucs(p, labels, DecisionRule::mean_probability);
  ASSERT_EQ(aucs.by_class.size(), 2u);
  EXPECT_DOUBLE_EQ(aucs.by_class.at("melanoma"), 1.0);
  // Keratosis scores .6 and .3 against .1 .2 .4 .2: 4 + 3 of 8 pairs won.
  EXPECT_DOUBLE_EQ(aucs.by_class.at("seborrheic_keratosis"), 7.0 / 8.0);
  EXPECT_DOUBLE_EQ(aucs.mean, (1.0 + 7.0 / 8.0) / 2.0);
  // Without keratosis images its AUC is undefined, and so is the mean.
  const PositiveClassAucs partial = positive_class_aucs(p, {0, 0, 2, 2, 2, 2}, DecisionRule::mean_probability);
  EXPECT_EQ(partial.by_class.count("seborrheic_keratosis"), 0u);
  EXPECT_EQ(partial.by_class.count("melanoma"), 1u);
  EXPECT_TRUE(std::isnan(partial.mean));
  EXPECT_THROW(positive_class_aucs(p, {0, 1}, DecisionRule::mean_probability), Error);
}

TEST(Predictions, AppendKeepsTheShapeAndRefusesOtherClasses) {
  Predictions all = one_image({{0.4f, 0.35f, 0.25f}, {0.0f, 1.0f, 0.0f}});
  all.member_logits = {{{1.0f, 0.0f, -1.0f}}, {{0.0f, 2.0f, 0.0f}}};
  Predictions more = all;
  more.ids = {"img2"};
  all.append(more);
  EXPECT_EQ(all.images(), 2u);
  EXPECT_EQ(all.ids, (std::vector<std::string>{"img", "img2"}));
  ASSERT_EQ(all.member_probabilities.size(), 2u);
  EXPECT_EQ(all.member_probabilities[1].size(), 2u);
  EXPECT_EQ(all.member_logits[1][1], (std::vector<float>{0.0f, 2.0f, 0.0f}));
  Predictions other = more;
  other.classes = {"melanoma", "benign", "nevus"};
  EXPECT_THROW(all.append(other), Error);
}

}  // namespace
}  // namespace derm
