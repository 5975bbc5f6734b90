// Must not compile: the data layer cannot see the train layer's headers (cmake/DermLayers.cmake).
#include "derm/train/train.hpp"
