#include "tool_main.hpp"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>

#include "derm/core/error.hpp"

namespace derm::cli {

CLI::Validator at_least(long long minimum) {
  const std::string bound = std::to_string(minimum);
  return CLI::Validator(
      [minimum, bound](std::string& input) -> std::string {
        // Unsigned options (seeds) would take "-1" as 2^64 - 1: a sign is read as signed.
        const bool negative = input.find('-') != std::string::npos;
        long long value = 0;
        unsigned long long unsigned_value = 0;
        const bool parsed = negative ? CLI::detail::lexical_cast(input, value)
                                     : CLI::detail::lexical_cast(input, unsigned_value);
        if (!parsed) return "expected an integer, got '" + input + "'";
        const bool below = negative ? value < minimum
                                    : minimum > 0 && unsigned_value < static_cast<unsigned long long>(minimum);
        if (below) return "must be at least " + bound + ", got " + input;
        return {};
      },
      "INT>=" + bound);
}

namespace {

std::string first_line(const char* message) {
  const std::string text(message);
  return text.substr(0, text.find('\n'));
}

}  // namespace

int run_tool(CLI::App& app, int argc, char** argv, const std::function<int()>& run, const FlagNames& renamed) {
  const std::string tool = app.get_name();
  try {
    app.parse(argc, argv);
    return run();
  } catch (const derm::OptionError& e) {
    const auto flag = [&](const std::string& option) {
      const auto found = renamed.find(option);
      if (found != renamed.end()) return found->second;
      std::string name = "--" + option;
      std::replace(name.begin(), name.end(), '_', '-');
      return name;
    };
    std::fprintf(stderr, "%s: error: %s (see --help)\n", tool.c_str(), first_line(e.message(flag).c_str()).c_str());
    return kExitUsage;
  } catch (const derm::Error& e) {
    std::fprintf(stderr, "%s: error: %s\n", tool.c_str(), first_line(e.what()).c_str());
    return kExitFailure;
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    return kExitOk;
  } catch (const CLI::CallForAllHelp&) {
    std::fputs(app.help("", CLI::AppFormatMode::All).c_str(), stdout);
    return kExitOk;
  } catch (const CLI::CallForVersion&) {
    std::fputs((app.version() + "\n").c_str(), stdout);
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: error: %s (see --help)\n", tool.c_str(), e.what());
    return kExitUsage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", tool.c_str(), first_line(e.what()).c_str());
    return kExitFailure;
  }
}

}  // namespace derm::cli
