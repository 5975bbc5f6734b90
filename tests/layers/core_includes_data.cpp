// Must not compile: the core layer cannot see the data layer's headers (cmake/DermLayers.cmake).
#include "derm/data/manifest.hpp"
