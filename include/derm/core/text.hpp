#pragma once
// Text helpers shared by the library's messages and files. Header-only on
// purpose: templates over any range of strings.
#include <string>

namespace derm {

// The strings of `parts` (any range of strings) with `separator` between them.
template <class Strings>
std::string join(const Strings& parts, const std::string& separator) {
  std::string joined;
  bool first = true;
  for (const auto& part : parts) {
    if (!first) joined += separator;
    joined += part;
    first = false;
  }
  return joined;
}

}  // namespace derm
