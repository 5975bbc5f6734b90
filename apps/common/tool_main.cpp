#include "tool_main.hpp"

#include <cstdio>
#include <exception>
#include <string>

#include "derm/error.hpp"

namespace derm::cli {

CLI::Validator at_least(long long minimum) {
  const std::string bound = std::to_string(minimum);
  return CLI::Validator(
      [minimum, bound](std::string& input) -> std::string {
        long long value = 0;
        if (!CLI::detail::lexical_cast(input, value)) return "expected an integer, got '" + input + "'";
        if (value < minimum) return "must be at least " + bound + ", got " + input;
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

int run_tool(CLI::App& app, int argc, char** argv, const std::function<int()>& run) {
  const std::string tool = app.get_name();
  try {
    app.parse(argc, argv);
    return run();
  } catch (const derm::OptionError& e) {
    std::fprintf(stderr, "%s: error: %s (see --help)\n", tool.c_str(), first_line(e.what()).c_str());
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
