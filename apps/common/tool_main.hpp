#pragma once
// The one error funnel of every derm tool: parse, run, and turn any failure
// into a one-line message on stderr and a non-zero exit code.
#include <exception>
#include <functional>
#include <map>
#include <string>

#include <CLI/CLI.hpp>

#include "derm/core/enum_names.hpp"
#include "derm/core/error.hpp"

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
// unknown name) accepts; its message is the parse error's (CLI11 puts the
// option's name in front).
template <class Parse>
CLI::Validator parsed_by(Parse parse) {
  return CLI::Validator(
      [parse](std::string& input) -> std::string {
        try {
          parse(input);
          return {};
        } catch (const derm::OptionError& e) {
          return e.problem();
        } catch (const std::exception& e) {
          return e.what();
        }
      },
      "");
}

// The names of an enum's values (derm/core/enum_names.hpp), e.g. squash, center_crop or pad.
template <class Enum>
CLI::Validator enum_name() {
  return parsed_by([](const std::string& name) { return derm::parse_enum<Enum>(name, ""); });
}

// How a tool names the library's options (derm::OptionError::option()): "--"
// and the field with '-' for '_' (batch_size: --batch-size), but for the
// fields whose flag differs, which `renamed` maps (out_dir: --out).
using FlagNames = std::map<std::string, std::string>;

// Parses argv into `app` (whose callbacks fill an options struct), then calls
// run(), which returns the exit code. Domain errors, then CLI errors, then any
// std::exception are reported as "<tool>: error: ..." lines: the first line of
// the message (LibTorch appends a stack trace to its errors' text), options
// named by their flags.
int run_tool(CLI::App& app, int argc, char** argv, const std::function<int()>& run, const FlagNames& renamed = {});

}  // namespace derm::cli
