#pragma once
// A 6-image, 3-member, 3-class ensemble whose metrics were worked out by hand
// (see evaluation_test.cpp).
#include <vector>

#include "derm/metrics/predictions.hpp"

namespace derm::testing {

inline Predictions hand_worked_ensemble() {
  Predictions p;
  p.classes = {"melanoma", "seborrheic_keratosis", "nevus"};
  p.ids = {"img0", "img1", "img2", "img3", "img4", "img5"};
  p.member_probabilities = {
      {{.7f, .1f, .2f}, {.3f, .1f, .6f}, {.1f, .8f, .1f}, {.1f, .2f, .7f}, {.1f, .1f, .8f}, {.2f, .2f, .6f}},
      {{.6f, .2f, .2f}, {.4f, .1f, .5f}, {.1f, .7f, .2f}, {.1f, .6f, .3f}, {.2f, .1f, .7f}, {.1f, .1f, .8f}},
      {{.2f, .1f, .7f}, {.5f, .1f, .4f}, {.2f, .6f, .2f}, {.1f, .3f, .6f}, {.6f, .1f, .3f}, {.1f, .1f, .8f}},
  };
  return p;
}

inline std::vector<int> hand_worked_labels() { return {0, 0, 1, 1, 2, 2}; }

}  // namespace derm::testing
