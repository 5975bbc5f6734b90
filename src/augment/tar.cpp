// POSIX ustar writing and reading (regular files only).
#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "derm/core/error.hpp"
#include "derm/augment/tar.hpp"

namespace derm {

namespace {

constexpr std::size_t kBlock = 512;
using Header = std::array<char, kBlock>;

// Field offsets and lengths of the ustar header.
constexpr std::size_t kNameAt = 0, kNameLen = 100;
constexpr std::size_t kModeAt = 100, kUidAt = 108, kGidAt = 116;
constexpr std::size_t kSizeAt = 124, kMtimeAt = 136, kChecksumAt = 148;
constexpr std::size_t kTypeAt = 156, kMagicAt = 257, kVersionAt = 263;

// value as zero-padded octal in width-1 digits plus a NUL.
void put_octal(Header& header, std::size_t at, std::size_t width, std::uint64_t value) {
  char text[32];
  std::snprintf(text, sizeof text, "%0*llo", static_cast<int>(width - 1),
                static_cast<unsigned long long>(value));
  std::memcpy(header.data() + at, text, width - 1);
  header[at + width - 1] = '\0';
}

std::uint64_t header_checksum(const Header& header) {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < kBlock; ++i) {
    const bool in_checksum = i >= kChecksumAt && i < kChecksumAt + 8;
    sum += in_checksum ? static_cast<unsigned char>(' ') : static_cast<unsigned char>(header[i]);
  }
  return sum;
}

std::uint64_t parse_octal(const Header& header, std::size_t at, std::size_t width, bool* ok) {
  std::uint64_t value = 0;
  std::size_t i = at;
  while (i < at + width && header[i] == ' ') ++i;
  bool any = false;
  for (; i < at + width && header[i] >= '0' && header[i] <= '7'; ++i) {
    value = value * 8 + static_cast<std::uint64_t>(header[i] - '0');
    any = true;
  }
  if (!any) *ok = false;
  return value;
}

std::size_t padding_of(std::uint64_t size) { return (kBlock - size % kBlock) % kBlock; }

}  // namespace

void TarWriter::add(const std::string& name, const void* data, std::size_t size) {
  if (name.empty() || name.size() > kNameLen) {
    throw Error("tar: entry name must be 1 to 100 bytes: '" + name + "'");
  }
  Header header{};
  std::memcpy(header.data() + kNameAt, name.data(), name.size());
  put_octal(header, kModeAt, 8, 0644);
  put_octal(header, kUidAt, 8, 0);
  put_octal(header, kGidAt, 8, 0);
  put_octal(header, kSizeAt, 12, size);
  put_octal(header, kMtimeAt, 12, 0);
  header[kTypeAt] = '0';
  std::memcpy(header.data() + kMagicAt, "ustar", 6);  // with its NUL
  std::memcpy(header.data() + kVersionAt, "00", 2);
  // Checksum: six octal digits, NUL, space.
  put_octal(header, kChecksumAt, 7, header_checksum(header));
  header[kChecksumAt + 7] = ' ';

  static const char zeros[kBlock] = {};
  out_.write(header.data(), kBlock);
  out_.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  out_.write(zeros, static_cast<std::streamsize>(padding_of(size)));
  if (!out_) throw Error("tar: write failed for entry '" + name + "' (disk full?)");
  bytes_ += kBlock + size + padding_of(size);
}

void TarWriter::finish() {
  static const char zeros[2 * kBlock] = {};
  out_.write(zeros, sizeof zeros);
  out_.flush();
  if (!out_) throw Error("tar: write failed at the end of the archive (disk full?)");
  bytes_ += sizeof zeros;
}

void walk_tar(const std::filesystem::path& path,
              const std::function<void(const TarMember&, std::istream&)>& visit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path.string() + ": cannot open tar archive");
  const std::string where = path.string() + ": ";
  Header header;
  std::uint64_t offset = 0;
  while (true) {
    in.seekg(static_cast<std::streamoff>(offset));
    if (!in.read(header.data(), kBlock)) throw Error(where + "truncated tar archive (no end marker)");
    const bool all_zero = std::all_of(header.begin(), header.end(), [](char c) { return c == 0; });
    if (all_zero) return;
    bool ok = true;
    const std::uint64_t stored = parse_octal(header, kChecksumAt, 8, &ok);
    if (!ok || stored != header_checksum(header)) {
      throw Error(where + "bad tar header checksum at byte " + std::to_string(offset));
    }
    if (std::memcmp(header.data() + kMagicAt, "ustar", 5) != 0) {
      throw Error(where + "not a ustar header at byte " + std::to_string(offset));
    }
    TarMember member;
    member.size = parse_octal(header, kSizeAt, 12, &ok);
    member.name.assign(header.data() + kNameAt, strnlen(header.data() + kNameAt, kNameLen));
    member.data_offset = offset + kBlock;
    offset = member.data_offset + member.size + padding_of(member.size);
    if (header[kTypeAt] == '0' || header[kTypeAt] == '\0') visit(member, in);
  }
}

void for_each_tar_entry(const std::filesystem::path& path,
                        const std::function<void(const TarEntry&)>& visit) {
  walk_tar(path, [&](const TarMember& member, std::istream& in) {
    TarEntry entry;
    entry.name = member.name;
    entry.data.resize(member.size);
    if (!in.read(entry.data.data(), static_cast<std::streamsize>(member.size))) {
      throw Error(path.string() + ": truncated tar entry '" + entry.name + "'");
    }
    visit(entry);
  });
}

}  // namespace derm
