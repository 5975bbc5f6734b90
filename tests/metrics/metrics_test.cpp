#include "derm/metrics/bootstrap.hpp"
#include "derm/metrics/metrics.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "derm/core/error.hpp"

namespace derm {
namespace {

TEST(AucRoc, HandWorkedExample) {
  // Positives .35 and .8 against negatives .1 and .4: 3 of 4 pairs ordered.
  EXPECT_DOUBLE_EQ(auc_roc({0.1, 0.4, 0.35, 0.8}, {false, false, true, true}), 0.75);
}

TEST(AucRoc, TiesCountHalf) {
  // Positives {.5, .7}, negatives {.5, .2, .7}:
  // .5 -> tie .5 (0.5) + beats .2 (1) = 1.5; .7 -> beats .5 and .2 (2) + tie .7 (0.5) = 2.5; 4 / 6.
  EXPECT_DOUBLE_EQ(auc_roc({0.5, 0.5, 0.2, 0.7, 0.7}, {true, false, false, true, false}), 4.0 / 6.0);
  EXPECT_DOUBLE_EQ(auc_roc({0.3, 0.3, 0.3, 0.3}, {true, false, true, false}), 0.5);
}

TEST(AucRoc, PerfectAndInverted) {
  EXPECT_DOUBLE_EQ(auc_roc({0.9, 0.8, 0.2, 0.1}, {true, true, false, false}), 1.0);
  EXPECT_DOUBLE_EQ(auc_roc({0.9, 0.8, 0.2, 0.1}, {false, false, true, true}), 0.0);
}

TEST(AucRoc, OneClassEmptyOrNanIsAnError) {
  EXPECT_THROW(auc_roc({0.1, 0.2}, {true, true}), Error);
  EXPECT_THROW(auc_roc({0.1, 0.2}, {false, false}), Error);
  EXPECT_THROW(auc_roc({}, {}), Error);
  EXPECT_THROW(auc_roc({0.1, std::numeric_limits<double>::quiet_NaN()}, {true, false}), Error);
  EXPECT_THROW(auc_roc({0.1, 0.2}, {true}), Error);
  try {
    auc_roc({0.1, 0.2}, {false, false});
    FAIL() << "expected derm::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("negatives only"), std::string::npos) << e.what();
  }
}

TEST(RocCurve, HandWorkedPoints) {
  const std::vector<RocPoint> points = roc_curve({0.1, 0.4, 0.35, 0.8}, {false, false, true, true});
  ASSERT_EQ(points.size(), 5u);
  EXPECT_TRUE(std::isinf(points[0].threshold));
  const double expected[][3] = {{0, 0, 0}, {0, 0.5, 0.8}, {0.5, 0.5, 0.4}, {0.5, 1, 0.35}, {1, 1, 0.1}};
  for (std::size_t k = 0; k < points.size(); ++k) {
    EXPECT_DOUBLE_EQ(points[k].fpr, expected[k][0]) << k;
    EXPECT_DOUBLE_EQ(points[k].tpr, expected[k][1]) << k;
    if (k > 0) {
      EXPECT_DOUBLE_EQ(points[k].threshold, expected[k][2]) << k;
    }
  }
}

TEST(RocCurve, TrapezoidAreaAndPairCountEqualAucOnRandomTiedData) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int> tenth(0, 10);
  std::bernoulli_distribution coin(0.3);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<double> scores;
    std::vector<bool> positive;
    for (int i = 0; i < 150; ++i) {
      const bool is_positive = coin(rng);
      positive.push_back(is_positive);
      scores.push_back(tenth(rng) / 10.0 + (is_positive ? 0.1 : 0.0));  // heavy ties, some signal
    }
    const std::vector<RocPoint> points = roc_curve(scores, positive);
    double area = 0;
    for (std::size_t k = 1; k < points.size(); ++k) {
      area += (points[k].fpr - points[k - 1].fpr) * (points[k].tpr + points[k - 1].tpr) / 2;
    }
    double wins = 0, pairs = 0;
    for (std::size_t p = 0; p < scores.size(); ++p) {
      for (std::size_t n = 0; n < scores.size(); ++n) {
        if (!positive[p] || positive[n]) continue;
        pairs += 1;
        wins += scores[p] > scores[n] ? 1.0 : scores[p] == scores[n] ? 0.5 : 0.0;
      }
    }
    const double auc = auc_roc(scores, positive);
    EXPECT_NEAR(auc, area, 1e-12);
    EXPECT_NEAR(auc, wins / pairs, 1e-12);
    EXPECT_DOUBLE_EQ(points.back().fpr, 1.0);
    EXPECT_DOUBLE_EQ(points.back().tpr, 1.0);
  }
}

TEST(BinaryCounts, SensitivitySpecificityByHand) {
  // predicted 1,1,0,0,1 vs truth 1,0,1,0,0: tp 1, fp 2, fn 1, tn 1.
  const BinaryCounts counts = binary_counts({true, true, false, false, true}, {true, false, true, false, false});
  EXPECT_EQ(counts.tp, 1);
  EXPECT_EQ(counts.fp, 2);
  EXPECT_EQ(counts.fn, 1);
  EXPECT_EQ(counts.tn, 1);
  EXPECT_DOUBLE_EQ(counts.accuracy(), 0.4);
  EXPECT_DOUBLE_EQ(counts.sensitivity(), 0.5);
  EXPECT_DOUBLE_EQ(counts.specificity(), 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(counts.precision(), 1.0 / 3.0);
}

TEST(BinaryCounts, ThresholdIsInclusiveAndUndefinedRatiosAreNan) {
  const BinaryCounts counts = binary_counts_at({0.5, 0.49, 0.7}, {true, true, true}, 0.5);
  EXPECT_EQ(counts.tp, 2);
  EXPECT_EQ(counts.fn, 1);
  EXPECT_DOUBLE_EQ(counts.sensitivity(), 2.0 / 3.0);
  EXPECT_TRUE(std::isnan(counts.specificity()));
}

// Negatives .1 .2 .3 .6, positives .4 .5 .7 .9. Going down the thresholds:
// .9 J=.25, .7 J=.5, .6 J=.25, .5 J=.5, .4 J=.75, .3 J=.5, .2 J=.25, .1 J=0.
const std::vector<double> kScores{0.1, 0.2, 0.3, 0.6, 0.4, 0.5, 0.7, 0.9};
const std::vector<bool> kPositive{false, false, false, false, true, true, true, true};

TEST(Thresholds, YoudenByHand) { EXPECT_DOUBLE_EQ(youden_threshold(kScores, kPositive), 0.4); }

TEST(Thresholds, YoudenTieTakesTheHigherThreshold) {
  // J = .5 at .8 and at .35.
  EXPECT_DOUBLE_EQ(youden_threshold({0.1, 0.4, 0.35, 0.8}, {false, false, true, true}), 0.8);
}

TEST(Thresholds, TargetSensitivityByHand) {
  EXPECT_DOUBLE_EQ(threshold_for_sensitivity(kScores, kPositive, 0.5), 0.7);
  EXPECT_DOUBLE_EQ(threshold_for_sensitivity(kScores, kPositive, 0.75), 0.5);
  EXPECT_DOUBLE_EQ(threshold_for_sensitivity(kScores, kPositive, 0.8), 0.4);
  EXPECT_DOUBLE_EQ(threshold_for_sensitivity(kScores, kPositive, 1.0), 0.4);
  EXPECT_THROW(threshold_for_sensitivity(kScores, kPositive, 0.0), Error);
  EXPECT_THROW(threshold_for_sensitivity(kScores, kPositive, 1.5), Error);
}

TEST(ConfusionMatrix, RowsAreTrueColumnsArePredicted) {
  const ConfusionMatrix matrix = confusion_matrix({0, 0, 1, 2, 2, 2}, {0, 1, 1, 2, 0, 2}, 3);
  const ConfusionMatrix expected{{1, 1, 0}, {0, 1, 0}, {1, 0, 2}};
  EXPECT_EQ(matrix, expected);
  EXPECT_DOUBLE_EQ(multiclass_accuracy({0, 0, 1, 2, 2, 2}, {0, 1, 1, 2, 0, 2}), 4.0 / 6.0);
  EXPECT_THROW(confusion_matrix({0, 3}, {0, 0}, 3), Error);
}

TEST(Quantile, InterpolatesBetweenOrderStatistics) {
  EXPECT_DOUBLE_EQ(quantile({4, 1, 3, 2, 5}, 0.5), 3.0);
  EXPECT_DOUBLE_EQ(quantile({1, 2, 3, 4}, 0.25), 1.75);
  EXPECT_DOUBLE_EQ(quantile({1, 2, 3, 4}, 1.0), 4.0);
  EXPECT_THROW(quantile({}, 0.5), Error);
}

struct NoisyData {
  std::vector<double> scores;
  std::vector<bool> positive;
  std::vector<bool> decided;
};

NoisyData noisy_data(std::size_t n, double positive_rate, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::bernoulli_distribution coin(positive_rate);
  std::normal_distribution<double> noise(0.0, 1.0);
  NoisyData data;
  for (std::size_t i = 0; i < n; ++i) {
    const bool is_positive = coin(rng);
    const double score = noise(rng) + (is_positive ? 1.2 : 0.0);
    data.scores.push_back(score);
    data.positive.push_back(is_positive);
    data.decided.push_back(score >= 0.6);
  }
  return data;
}

TEST(Bootstrap, IntervalsContainThePointEstimatesAndAreSeeded) {
  const NoisyData data = noisy_data(300, 0.3, 11);
  BootstrapOptions options;
  options.resamples = 500;
  const BinaryMetricIntervals a = bootstrap_binary_metrics(data.scores, data.decided, data.positive, options);
  const BinaryCounts counts = binary_counts(data.decided, data.positive);
  const double auc = auc_roc(data.scores, data.positive);
  EXPECT_EQ(a.resamples_drawn, 500);
  EXPECT_EQ(a.resamples_used, 500);
  EXPECT_LT(a.auc.lower, auc);
  EXPECT_GT(a.auc.upper, auc);
  EXPECT_LT(a.auc.upper - a.auc.lower, 0.25);
  EXPECT_LT(a.accuracy.lower, counts.accuracy());
  EXPECT_GT(a.accuracy.upper, counts.accuracy());
  EXPECT_LT(a.sensitivity.lower, counts.sensitivity());
  EXPECT_GT(a.sensitivity.upper, counts.sensitivity());
  EXPECT_LT(a.specificity.lower, counts.specificity());
  EXPECT_GT(a.specificity.upper, counts.specificity());

  const BinaryMetricIntervals same = bootstrap_binary_metrics(data.scores, data.decided, data.positive, options);
  EXPECT_EQ(same.auc.lower, a.auc.lower);
  EXPECT_EQ(same.auc.upper, a.auc.upper);
  EXPECT_EQ(same.sensitivity.lower, a.sensitivity.lower);
  options.seed += 1;
  const BinaryMetricIntervals other = bootstrap_binary_metrics(data.scores, data.decided, data.positive, options);
  EXPECT_NE(other.auc.lower, a.auc.lower);
}

TEST(Bootstrap, SkipsResamplesWithOneClass) {
  // One positive in ten images: about 0.9^10 = 35% of resamples miss it.
  std::vector<double> scores{0.9, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.15, 0.25};
  std::vector<bool> positive(10, false);
  positive[0] = true;
  std::vector<bool> decided(10, false);
  decided[0] = true;
  BootstrapOptions options;
  options.resamples = 400;
  const BinaryMetricIntervals intervals = bootstrap_binary_metrics(scores, decided, positive, options);
  EXPECT_EQ(intervals.resamples_drawn, 400);
  EXPECT_GT(intervals.resamples_used, 180);
  EXPECT_LT(intervals.resamples_used, 340);
  EXPECT_DOUBLE_EQ(intervals.auc.lower, 1.0);  // every usable resample ranks the positive first
  EXPECT_DOUBLE_EQ(intervals.sensitivity.upper, 1.0);
}

TEST(Bootstrap, ZeroResamplesGiveNoInterval) {
  BootstrapOptions options;
  options.resamples = 0;
  const BinaryMetricIntervals intervals =
      bootstrap_binary_metrics({0.1, 0.9}, {false, true}, {false, true}, options);
  EXPECT_TRUE(std::isnan(intervals.auc.lower));
  EXPECT_EQ(intervals.resamples_used, 0);
  options.resamples = -1;
  EXPECT_THROW(bootstrap_binary_metrics({0.1, 0.9}, {false, true}, {false, true}, options), Error);
}

}  // namespace
}  // namespace derm
