#include "derm/core/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "derm/core/error.hpp"

namespace derm {
namespace fs = std::filesystem;

namespace {

constexpr const char* kTemporaryInfix = ".tmp-";

std::string hidden_prefix(const fs::path& path, const std::string& infix) {
  return "." + path.filename().string() + infix;
}

// ".<name><infix><random hex>" beside `path`.
fs::path hidden_sibling(const fs::path& path, const std::string& infix) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::ostringstream name;
  name << hidden_prefix(path, infix) << std::hex << rng();
  return path.parent_path() / name.str();
}

fs::path temporary_sibling(const fs::path& path) { return hidden_sibling(path, kTemporaryInfix); }

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

void fsync_path(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

void write_path_atomically(const fs::path& path,
                           const std::function<void(const fs::path& tmp)>& write) {
  const fs::path parent = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (!fs::is_directory(parent)) {
    throw Error(path.string() + ": cannot create folder " + parent.string());
  }
  const fs::path tmp = temporary_sibling(path);
  try {
    write(tmp);
    fsync_path(tmp);
    fs::rename(tmp, path);
  } catch (const Error&) {
    fs::remove(tmp, ec);
    throw;
  } catch (const std::exception& e) {
    fs::remove(tmp, ec);
    throw Error(path.string() + ": cannot write: " + e.what());
  }
}

StagedFiles::~StagedFiles() {
  std::error_code ec;
  for (const auto& file : files_) fs::remove(file.staged, ec);
}

void StagedFiles::write(const fs::path& destination, const std::function<void(const fs::path& staged)>& write) {
  const fs::path staged = hidden_sibling(destination, ".staged-");
  files_.push_back({staged, destination});
  try {
    write(staged);
  } catch (const Error& e) {
    throw Error(replace_all(e.what(), staged.string(), destination.string()));
  }
}

void StagedFiles::commit() {
  for (const auto& file : files_) {
    if (fs::is_directory(file.destination)) {
      throw Error(file.destination.string() + ": is a folder, cannot write the file there");
    }
  }
  for (const auto& file : files_) {
    std::error_code ec;
    fs::rename(file.staged, file.destination, ec);
    if (ec) throw Error(file.destination.string() + ": cannot write: " + ec.message());
  }
  files_.clear();
}

void remove_stale_temporaries(const fs::path& path) {
  const fs::path parent = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  const std::string prefix = hidden_prefix(path, kTemporaryInfix);
  std::error_code ec;
  for (fs::directory_iterator it(parent, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename().string().rfind(prefix, 0) == 0) fs::remove(it->path(), ec);
  }
}

fs::path file_identity(const fs::path& path) {
  std::error_code ec;
  const fs::path canonical = fs::weakly_canonical(path, ec);
  return ec ? fs::absolute(path).lexically_normal() : canonical;
}

void write_file_atomically(const fs::path& path,
                           const std::function<void(std::ostream&)>& write) {
  write_path_atomically(path, [&](const fs::path& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(path.string() + ": cannot open for writing: " + std::strerror(errno));
    write(out);
    out.flush();
    if (!out) throw Error(path.string() + ": write failed (disk full?)");
  });
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw Error(path.string() + ": cannot open: " +
                (fs::exists(path) ? std::strerror(errno) : "no such file"));
  }
  // Not `ostringstream << rdbuf()`: that swallows a failure to grow the string
  // (std::bad_alloc) and returns the file cut short.
  std::string bytes;
  std::array<char, 1 << 16> chunk;
  while (in.read(chunk.data(), chunk.size()) || in.gcount() > 0) {
    bytes.append(chunk.data(), static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) throw Error(path.string() + ": read failed");
  return bytes;
}

}  // namespace derm
