// Classifies a synthetic lesion with the model file given, through derm's public headers alone.
#include <cmath>
#include <cstdio>

#include <opencv2/imgproc.hpp>

#include "derm/infer/classifier.hpp"
#include "derm/version.hpp"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  cv::Mat rgb(320, 320, CV_8UC3, cv::Scalar(205, 160, 140));
  cv::circle(rgb, {160, 160}, 70, cv::Scalar(90, 60, 50), cv::FILLED);
  derm::ClassifierOptions options;
  options.models = {argv[1]};
  options.device = "cpu";
  derm::Classifier classifier(options);
  const derm::Predictions predictions = classifier.classify({rgb}, {"synthetic"});
  double sum = 0;
  for (const float p : predictions.member_probabilities.at(0).at(0)) sum += p;
  std::printf("derm %s: %zu classes, probabilities sum to %.6f\n", DERM_VERSION, predictions.classes.size(), sum);
  return std::abs(sum - 1.0) < 1e-5 && predictions.classes.size() == 3 ? 0 : 1;
}
