#pragma once
// The one error funnel of every derm tool: parse, run, and turn any failure
// into a one-line message on stderr and a non-zero exit code.
#include <exception>
#include <functional>
#include <string>

#include <CLI/CLI.hpp>

namespace derm::cli {

// Exit codes shared by the tools.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;       // derm::Error or another error
inline constexpr int kExitUsage = 2;         // bad command line (CLI11's, or derm::OptionError)
inline constexpr int kExitPartial = 3;       // some inputs failed, the others were processed

// An integer option's lower bound; its message says so (CLI11's
// PositiveNumber names a range up to the largest double).
CLI::Validator at_least(long long minimum);

// Accepts the values that `parse` (a library function that throws on an
// unknown name) accepts; its message is the parse error's.
template <class Parse>
CLI::Validator parsed_by(Parse parse) {
  return CLI::Validator(
      [parse](std::string& input) -> std::string {
        try {
          parse(input);
          return {};
        } catch (const std::exception& e) {
          return e.what();
        }
      },
      "");
}

// squash, center_crop or pad (derm::parse_resize_policy).
CLI::Validator resize_policy_name();

// Parses argv into `app` (whose callbacks fill an options struct), then calls
// run(), which returns the exit code. Domain errors, then CLI errors, then any
// std::exception are reported as "<tool>: error: ..." lines: the first line of
// the message (LibTorch appends a stack trace to its errors' text).
int run_tool(CLI::App& app, int argc, char** argv, const std::function<int()>& run);

}  // namespace derm::cli
