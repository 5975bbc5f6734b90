// The error funnel and option checks that every tool shares.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "derm/core/error.hpp"
#include "tool_main.hpp"

namespace derm::cli {
namespace {

struct Outcome {
  int code;
  std::string err;
};

Outcome run(CLI::App& app, std::vector<std::string> args, const std::function<int()>& body,
            const FlagNames& renamed = {}) {
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  ::testing::internal::CaptureStderr();
  const int code = run_tool(app, static_cast<int>(argv.size()), argv.data(), body, renamed);
  return {code, ::testing::internal::GetCapturedStderr()};
}

TEST(ToolMain, AnErrorIsTheFirstLineOfItsMessage) {
  CLI::App app{"test", "derm-test"};
  // As LibTorch's errors read: the message, then the stack trace.
  const Outcome library = run(app, {"derm-test"}, []() -> int {
    throw std::runtime_error("DefaultCPUAllocator: can't allocate memory\nframe #0: c10::alloc_cpu(unsigned long)");
  });
  EXPECT_EQ(library.code, kExitFailure);
  EXPECT_EQ(library.err, "derm-test: error: DefaultCPUAllocator: can't allocate memory\n");

  const Outcome domain = run(app, {"derm-test"}, []() -> int { throw Error("a.jpg: cannot decode\nmore"); });
  EXPECT_EQ(domain.code, kExitFailure);
  EXPECT_EQ(domain.err, "derm-test: error: a.jpg: cannot decode\n");
}

TEST(ToolMain, AnOptionErrorIsABadCommandLine) {
  CLI::App app{"test", "derm-test"};
  const Outcome outcome =
      run(app, {"derm-test"}, []() -> int { throw OptionError("device", "'tpu': expected cpu, cuda, cuda:N or auto"); });
  EXPECT_EQ(outcome.code, kExitUsage);
  EXPECT_EQ(outcome.err, "derm-test: error: --device 'tpu': expected cpu, cuda, cuda:N or auto (see --help)\n");
}

TEST(ToolMain, AnOptionErrorNamesOptionsByTheToolsFlags) {
  CLI::App app{"test", "derm-test"};
  const Outcome outcome = run(
      app, {"derm-test"}, []() -> int { throw OptionError("head_epochs", "must be fewer than {epochs} and {out_dir}"); },
      {{"out_dir", "--out"}});
  EXPECT_EQ(outcome.code, kExitUsage);
  EXPECT_EQ(outcome.err, "derm-test: error: --head-epochs must be fewer than --epochs and --out (see --help)\n");
}

TEST(ToolMain, AtLeastNamesTheBoundAndRefusesWhatIsNotAnInteger) {
  const std::vector<std::pair<std::string, std::string>> refused{{"0", "must be at least 1, got 0"},
                                                                 {"-3", "must be at least 1, got -3"},
                                                                 {"abc", "expected an integer, got 'abc'"},
                                                                 {"2.5", "expected an integer, got '2.5'"}};
  for (const auto& [value, message] : refused) {
    CLI::App app{"test", "derm-test"};
    int n = 0;
    app.add_option("--n", n)->check(at_least(1));
    const Outcome outcome = run(app, {"derm-test", "--n", value}, [] { return kExitOk; });
    EXPECT_EQ(outcome.code, kExitUsage) << value;
    EXPECT_NE(outcome.err.find("--n: " + message), std::string::npos) << value << " -> " << outcome.err;
    EXPECT_EQ(std::count(outcome.err.begin(), outcome.err.end(), '\n'), 1) << outcome.err;
  }
  CLI::App app{"test", "derm-test"};
  int n = 0;
  app.add_option("--n", n)->check(at_least(1));
  EXPECT_EQ(run(app, {"derm-test", "--n", "7"}, [] { return kExitOk; }).code, kExitOk);
  EXPECT_EQ(n, 7);
}

TEST(ToolMain, AtLeastZeroKeepsANegativeNumberFromWrappingAroundInAnUnsignedOption) {
  for (const std::string value : {"-1", "-0x1"}) {
    CLI::App app{"test", "derm-test"};
    std::uint64_t seed = 5;
    app.add_option("--seed", seed)->check(at_least(0));
    const Outcome outcome = run(app, {"derm-test", "--seed", value}, [] { return kExitOk; });
    EXPECT_EQ(outcome.code, kExitUsage) << value;
    EXPECT_NE(outcome.err.find("--seed: "), std::string::npos) << value << " -> " << outcome.err;
  }
  CLI::App app{"test", "derm-test"};
  std::uint64_t seed = 5;
  app.add_option("--seed", seed)->check(at_least(0));
  EXPECT_EQ(run(app, {"derm-test", "--seed", "18446744073709551615"}, [] { return kExitOk; }).code, kExitOk);
  EXPECT_EQ(seed, 18446744073709551615ull);
}

TEST(ToolMain, ParsedByAcceptsWhatTheParserAcceptsAndQuotesItsError) {
  const auto parse_colour = [](const std::string& name) {
    if (name != "red") throw std::invalid_argument("unknown colour '" + name + "'");
    return 1;
  };
  CLI::App app{"test", "derm-test"};
  std::string colour;
  app.add_option("--colour", colour)->check(parsed_by(parse_colour));
  const Outcome outcome = run(app, {"derm-test", "--colour", "blue"}, [] { return kExitOk; });
  EXPECT_EQ(outcome.code, kExitUsage);
  EXPECT_NE(outcome.err.find("--colour: unknown colour 'blue'"), std::string::npos) << outcome.err;
  CLI::App accepting{"test", "derm-test"};
  accepting.add_option("--colour", colour)->check(parsed_by(parse_colour));
  EXPECT_EQ(run(accepting, {"derm-test", "--colour", "red"}, [] { return kExitOk; }).code, kExitOk);
  EXPECT_EQ(colour, "red");
}

}  // namespace
}  // namespace derm::cli
