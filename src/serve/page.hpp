#pragma once
// Internal: derm-serve's web page, src/serve/page.html, which the build embeds
// into page.cpp (src/CMakeLists.txt).
#include <string_view>

namespace derm::detail {

std::string_view page_html();

}  // namespace derm::detail
