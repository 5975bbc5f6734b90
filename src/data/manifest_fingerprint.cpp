#include "derm/data/manifest_fingerprint.hpp"

#include <cstdint>
#include <cstdio>

namespace derm {
namespace {

class Fnv1a {
 public:
  void add(const std::string& text) {
    for (const char c : text) {
      hash_ ^= static_cast<unsigned char>(c);
      hash_ *= 0x100000001B3ULL;
    }
    hash_ ^= 0xFF;  // field separator
    hash_ *= 0x100000001B3ULL;
  }
  std::string hex() const {
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash_));
    return text;
  }

 private:
  std::uint64_t hash_ = 0xCBF29CE484222325ULL;
};

}  // namespace

std::string manifest_fingerprint(const Manifest& manifest) {
  Fnv1a hash;
  for (const ManifestEntry& entry : manifest.entries) {
    hash.add(entry.id);
    hash.add(entry.label);
    hash.add(entry.split);
    hash.add(entry.content_hash);
  }
  return hash.hex();
}

std::string split_fingerprint(const Manifest& manifest, const std::string& split) {
  Fnv1a hash;
  for (const std::string& name : manifest.classes) hash.add(name);
  for (const ManifestEntry& entry : manifest.split(split)) {
    hash.add(entry.id);
    hash.add(entry.label);
    hash.add(std::to_string(entry.label_index));
    hash.add(entry.content_hash);
  }
  return hash.hex();
}

}  // namespace derm
