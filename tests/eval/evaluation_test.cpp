#include "derm/eval/evaluation.hpp"

#include <gtest/gtest.h>

#include "derm/core/error.hpp"
#include "evaluation_fixture.hpp"

namespace derm {
namespace {

// Hand-worked facts of hand_worked_ensemble():
// votes (argmax per member): img0 mel,mel,nev -> mel; img1 nev,nev,mel -> nev;
// img2 sk x3 -> sk; img3 nev,sk,nev -> nev; img4 nev,nev,mel -> nev; img5 nev x3.
// Both rules predict mel,nev,sk,nev,nev,nev against truth mel,mel,sk,sk,nev,nev:
// accuracy 4/6, confusion [[1,0,1],[0,1,1],[0,0,2]].
// Melanoma mean probability: .5 .4 | .133 .1 .3 .133 -> AUC 1.
// Melanoma vote fraction: 2/3 1/3 | 0 0 1/3 0 -> (4 + 3.5) / 8 = 0.9375.
// Seborrheic keratosis vote fraction: 1 1/3 | 0 0 0 0 -> AUC 1; mean prob AUC 1.
// At threshold .45: mean mel > .45 only img0 (.5); majority: img0 has 2 of 3
// members >= .45, img1 and img4 only 1 -> tp 1, fn 1, fp 0, tn 4 for both.
EvaluationOptions hand_options() {
  EvaluationOptions options;
  options.fixed_threshold = 0.45;
  options.bootstrap.resamples = 200;
  return options;
}

TEST(Evaluate, HandWorkedEnsembleReport) {
  const nlohmann::json report =
      evaluate(testing::hand_worked_ensemble(), testing::hand_worked_labels(), hand_options());
  EXPECT_EQ(report["images"], 6);
  EXPECT_EQ(report["members"], 3);
  EXPECT_EQ(report["positive_classes"], nlohmann::json({"melanoma", "seborrheic_keratosis"}));
  EXPECT_EQ(report["class_counts"]["nevus"], 2);
  EXPECT_EQ(report["thresholds"]["policy"], "fixed 0.45");

  const auto& majority = report["decisions"]["majority_vote"];
  EXPECT_DOUBLE_EQ(majority["accuracy"].get<double>(), 4.0 / 6.0);
  EXPECT_EQ(majority["confusion_matrix"], nlohmann::json({{1, 0, 1}, {0, 1, 1}, {0, 0, 2}}));
  const auto& melanoma = majority["one_vs_rest"]["melanoma"];
  EXPECT_EQ(melanoma["score"], "vote_fraction");
  EXPECT_DOUBLE_EQ(melanoma["auc"].get<double>(), 0.9375);
  EXPECT_EQ(melanoma["tp"], 1);
  EXPECT_EQ(melanoma["fn"], 1);
  EXPECT_EQ(melanoma["fp"], 0);
  EXPECT_EQ(melanoma["tn"], 4);
  EXPECT_DOUBLE_EQ(melanoma["sensitivity"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(melanoma["specificity"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(melanoma["accuracy"].get<double>(), 5.0 / 6.0);
  EXPECT_DOUBLE_EQ(melanoma["threshold"].get<double>(), 0.45);
  EXPECT_DOUBLE_EQ(majority["mean_auc"].get<double>(), (0.9375 + 1.0) / 2.0);

  const auto& mean = report["decisions"]["mean_probability"];
  EXPECT_DOUBLE_EQ(mean["accuracy"].get<double>(), 4.0 / 6.0);
  EXPECT_DOUBLE_EQ(mean["one_vs_rest"]["melanoma"]["auc"].get<double>(), 1.0);
  EXPECT_EQ(mean["one_vs_rest"]["melanoma"]["tp"], 1);
  EXPECT_DOUBLE_EQ(mean["mean_auc"].get<double>(), 1.0);

  ASSERT_EQ(report["member_reports"].size(), 3u);
  EXPECT_EQ(report["member_reports"][0]["decision"], "member_0");
  // Member 0 predicts mel,nev,sk,nev,nev,nev: also 4 of 6.
  EXPECT_DOUBLE_EQ(report["member_reports"][0]["accuracy"].get<double>(), 4.0 / 6.0);

  const auto& ci = melanoma["auc_ci"];
  ASSERT_TRUE(ci.is_array());
  EXPECT_LE(ci[0].get<double>(), 0.9375);
  EXPECT_GE(ci[1].get<double>(), 0.9375);
  EXPECT_GT(melanoma["bootstrap_resamples_used"].get<int>(), 100);
  EXPECT_LT(melanoma["bootstrap_resamples_used"].get<int>(), 200);  // some resamples miss melanoma
}

TEST(Evaluate, IsDeterministic) {
  const auto p = testing::hand_worked_ensemble();
  const auto labels = testing::hand_worked_labels();
  EXPECT_EQ(evaluate(p, labels, hand_options()).dump(), evaluate(p, labels, hand_options()).dump());
}

TEST(Evaluate, ClassWithoutPositivesIsAnErrorNamingIt) {
  try {
    evaluate(testing::hand_worked_ensemble(), {2, 2, 1, 1, 2, 2}, hand_options());
    FAIL() << "expected derm::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("melanoma"), std::string::npos) << e.what();
  }
  EXPECT_THROW(evaluate(testing::hand_worked_ensemble(), {0, 1}, hand_options()), Error);
  EXPECT_THROW(evaluate(testing::hand_worked_ensemble(), {0, 0, 1, 1, 2, 3}, hand_options()), Error);
}

TEST(ChooseThresholds, YoudenOnValidationThenAppliedToTest) {
  // Melanoma, mean rule: .5 .4 | <= .3 -> Youden at .4 (J=1).
  // Melanoma, majority rule: 2nd largest member probability .6 .4 | .1 .1 .2 .1 -> .4.
  ThresholdOptions policy;
  policy.policy = ThresholdPolicy::youden;
  const Thresholds thresholds =
      choose_thresholds(testing::hand_worked_ensemble(), testing::hand_worked_labels(), policy);
  EXPECT_NEAR(thresholds.at("mean_probability", "melanoma"), 0.4, 1e-6);
  EXPECT_NEAR(thresholds.at("majority_vote", "melanoma"), 0.4, 1e-6);
  EXPECT_NEAR(thresholds.at("member_0", "melanoma"), 0.3, 1e-6);  // member 0: .7 .3 | .1 .1 .1 .2
  EXPECT_THROW(thresholds.at("majority_vote", "nevus"), Error);

  EvaluationOptions options = hand_options();
  options.thresholds = thresholds;
  const nlohmann::json report = evaluate(testing::hand_worked_ensemble(), testing::hand_worked_labels(), options);
  for (const char* rule : {"majority_vote", "mean_probability"}) {
    const auto& melanoma = report["decisions"][rule]["one_vs_rest"]["melanoma"];
    EXPECT_DOUBLE_EQ(melanoma["sensitivity"].get<double>(), 1.0) << rule;
    EXPECT_DOUBLE_EQ(melanoma["specificity"].get<double>(), 1.0) << rule;
  }
  EXPECT_NE(report["thresholds"]["policy"].get<std::string>().find("youden"), std::string::npos);
}

TEST(ChooseThresholds, TargetSensitivityAndPolicyNames) {
  ThresholdOptions policy;
  policy.policy = ThresholdPolicy::target_sensitivity;
  policy.target_sensitivity = 0.5;
  const Thresholds thresholds =
      choose_thresholds(testing::hand_worked_ensemble(), testing::hand_worked_labels(), policy);
  EXPECT_NEAR(thresholds.at("mean_probability", "melanoma"), 0.5, 1e-6);  // one of two melanomas
  EXPECT_EQ(parse_enum<ThresholdPolicy>("youden", "threshold_policy"), ThresholdPolicy::youden);
  EXPECT_EQ(name_of(ThresholdPolicy::target_sensitivity), "target_sensitivity");
  EXPECT_THROW(parse_enum<ThresholdPolicy>("median", "threshold_policy"), OptionError);
}

TEST(Evaluate, SingleModelReportsOnlyItsProbability) {
  Predictions single = testing::hand_worked_ensemble();
  single.member_probabilities.resize(1);
  const nlohmann::json report = evaluate(single, testing::hand_worked_labels(), hand_options());
  EXPECT_FALSE(report["decisions"].contains("majority_vote"));
  EXPECT_TRUE(report["member_reports"].empty());
  // Member 0's melanoma probability .7 .3 | .1 .1 .1 .2 separates perfectly.
  EXPECT_DOUBLE_EQ(report["decisions"]["mean_probability"]["one_vs_rest"]["melanoma"]["auc"].get<double>(), 1.0);
}

}  // namespace
}  // namespace derm
