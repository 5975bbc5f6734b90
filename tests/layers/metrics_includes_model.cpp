// Must not compile: the metrics layer cannot see the model layer's headers (cmake/DermLayers.cmake).
#include "derm/model/model_metadata.hpp"
