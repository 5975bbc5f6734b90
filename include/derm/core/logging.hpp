#pragma once
// Logs go to stderr only, so stdout stays free for machine-readable output.
namespace derm {

enum class Verbosity { quiet, normal, verbose };

// Installs the stderr logger used by every tool: quiet shows errors only.
void configure_logging(Verbosity verbosity);

}  // namespace derm
