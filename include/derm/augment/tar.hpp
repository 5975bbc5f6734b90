#pragma once
// POSIX ustar archives, the subset WebDataset shards need: regular files.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <istream>
#include <ostream>
#include <string>

namespace derm {

class TarWriter {
 public:
  explicit TarWriter(std::ostream& out) : out_(out) {}
  // A regular file (mode 0644, mtime 0, so archives are reproducible). The name
  // is at most 100 bytes; derm::Error otherwise or when the stream fails.
  void add(const std::string& name, const void* data, std::size_t size);
  void add(const std::string& name, const std::string& data) { add(name, data.data(), data.size()); }
  // Writes the end-of-archive marker (two zero blocks).
  void finish();
  std::uint64_t bytes_written() const { return bytes_; }

 private:
  std::ostream& out_;
  std::uint64_t bytes_ = 0;
};

struct TarEntry {
  std::string name;
  std::string data;
};
// Visits the regular files of a ustar archive in order, one in memory at a
// time; checks each header's checksum. derm::Error names the file when malformed.
void for_each_tar_entry(const std::filesystem::path& path,
                        const std::function<void(const TarEntry&)>& visit);

// A regular file of an archive: where its data lie.
struct TarMember {
  std::string name;
  std::uint64_t data_offset = 0;
  std::uint64_t size = 0;
};
// Visits the headers of the regular files in order; the visitor may read the
// member's data from the stream (positioned at data_offset) or skip it, so an
// archive can be indexed without reading its data.
void walk_tar(const std::filesystem::path& path,
              const std::function<void(const TarMember&, std::istream&)>& visit);

}  // namespace derm
