#pragma once
// The exception types of the derm library: a domain error whose message is a
// complete one-line explanation for the user (it names the file or option).
#include <functional>
#include <stdexcept>
#include <string>

namespace derm {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// An option's value is impossible, or does not fit the other options or the
// data (the tools exit with 2, as for a bad command line). The library names
// options by the fields of its options structs ("batch_size"); each tool
// names them by its own flags ("--batch-size") through message().
class OptionError : public Error {
 public:
  using NameOf = std::function<std::string(const std::string& option)>;

  // The message is the option's name, then `problem` (after a space unless it
  // starts with ':'); `problem` may name options as {option}, e.g.
  // OptionError("head_epochs", "must be fewer than {epochs}"), and when it
  // names the option itself, the message is `problem` alone.
  OptionError(std::string option, std::string problem);

  const std::string& option() const { return option_; }
  // What is wrong, without the option's name (e.g. for a message that already names it).
  std::string problem() const;
  // The message with every option named by name_of; what() names them as they are.
  std::string message(const NameOf& name_of) const;

 private:
  std::string option_;
  std::string problem_;
};

}  // namespace derm
