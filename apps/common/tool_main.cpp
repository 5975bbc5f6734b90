#include "tool_main.hpp"

#include <cstdio>
#include <exception>

#include "derm/error.hpp"

namespace derm::cli {

int run_tool(CLI::App& app, int argc, char** argv, const std::function<int()>& run) {
  const std::string tool = app.get_name();
  try {
    app.parse(argc, argv);
    return run();
  } catch (const derm::Error& e) {
    std::fprintf(stderr, "%s: error: %s\n", tool.c_str(), e.what());
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
    std::fprintf(stderr, "%s: error: %s\n", tool.c_str(), e.what());
    return kExitFailure;
  }
}

}  // namespace derm::cli
