#pragma once
// The exception types of the derm library: a domain error whose message is a
// complete one-line explanation for the user (it names the file or option).
#include <stdexcept>
#include <string>

namespace derm {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// A bad command line: an option's value is impossible, or does not fit the
// other options or the data (the tools exit with 2, as for a parse error).
class OptionError : public Error {
 public:
  using Error::Error;
};

}  // namespace derm
