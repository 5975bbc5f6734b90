#pragma once
// SHA-256 (FIPS 180-4) of bytes, as 64 lowercase hex digits: the content hash
// of the manifest, used to find byte-identical images.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace derm {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, std::size_t size);
  std::string hex_digest();  // finishes; call once

 private:
  void compress(const std::uint8_t* block);

  std::uint32_t state_[8];
  std::uint8_t buffer_[64];
  std::size_t buffered_ = 0;
  std::uint64_t total_bytes_ = 0;
};

std::string sha256_hex(const std::string& bytes);

}  // namespace derm
