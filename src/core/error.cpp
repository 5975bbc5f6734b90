#include "derm/core/error.hpp"

#include <cctype>

namespace derm {
namespace {

std::string as_is(const std::string& option) { return option; }

bool is_option_name(const std::string& text) {
  if (text.empty()) return false;
  for (const char c : text) {
    if (!std::islower(static_cast<unsigned char>(c)) && !std::isdigit(static_cast<unsigned char>(c)) && c != '_') {
      return false;
    }
  }
  return true;
}

// The problem with every {option} named by name_of, after the option's name
// unless `named` is false or the problem names the option itself.
std::string compose(const std::string& option, const std::string& problem, const OptionError::NameOf& name_of,
                    bool named = true) {
  std::string text;
  if (named && problem.find("{" + option + "}") == std::string::npos) {
    text = name_of(option);
    if (!problem.empty() && problem.front() != ':') text += ' ';
  }
  for (std::size_t i = 0; i < problem.size(); ++i) {
    const std::size_t close = problem[i] == '{' ? problem.find('}', i) : std::string::npos;
    if (close != std::string::npos && is_option_name(problem.substr(i + 1, close - i - 1))) {
      text += name_of(problem.substr(i + 1, close - i - 1));
      i = close;
    } else {
      text += problem[i];
    }
  }
  return text;
}

}  // namespace

OptionError::OptionError(std::string option, std::string problem)
    : Error(compose(option, problem, as_is)), option_(std::move(option)), problem_(std::move(problem)) {}

std::string OptionError::problem() const {
  const std::string text = compose(option_, problem_, as_is, /*named=*/false);
  const std::size_t start = text.find_first_not_of(": ");
  return start == std::string::npos ? std::string() : text.substr(start);
}

std::string OptionError::message(const NameOf& name_of) const { return compose(option_, problem_, name_of); }

}  // namespace derm
