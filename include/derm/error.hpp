#pragma once
// The one exception type of the derm library: a domain error whose message is a
// complete one-line explanation for the user (it names the file or option).
#include <stdexcept>
#include <string>

namespace derm {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace derm
