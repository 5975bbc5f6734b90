#include "derm/augment/shard_files.hpp"

#include <cstdio>

namespace derm {

std::string shard_name(std::int64_t shard_index) {
  char text[32];
  std::snprintf(text, sizeof text, "shard-%06lld.tar", static_cast<long long>(shard_index));
  return text;
}

std::string sample_key(std::int64_t sample_index) {
  char text[32];
  std::snprintf(text, sizeof text, "%09lld", static_cast<long long>(sample_index));
  return text;
}

}  // namespace derm
