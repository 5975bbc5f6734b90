#pragma once
// Outputs are never half-written: everything is written to a temporary file in
// the destination folder and renamed into place once complete.
#include <filesystem>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace derm {

// Calls write(stream) on a temporary sibling of `path`, flushes, fsyncs and
// renames it to `path`. On any failure the temporary is removed and derm::Error
// names `path`; an existing file at `path` is left untouched.
void write_file_atomically(const std::filesystem::path& path,
                           const std::function<void(std::ostream&)>& write);

// Same, for a producer that writes to a file name (e.g. cv::imwrite, torch::save).
void write_path_atomically(const std::filesystem::path& path,
                           const std::function<void(const std::filesystem::path& tmp)>& write);

// Outputs that appear together or not at all (a manifest and its summary, a
// report and its plots): each is written, by any atomic writer, under a staged
// name beside its destination, and commit() renames them all into place once
// every one was written. What was staged but not committed is removed when the
// StagedFiles goes away, e.g. when a later output fails.
class StagedFiles {
 public:
  StagedFiles() = default;
  StagedFiles(const StagedFiles&) = delete;
  StagedFiles& operator=(const StagedFiles&) = delete;
  ~StagedFiles();

  // Calls write(staged) for `destination`, the staged name being
  // ".<name>.staged-<hex>" beside it; a derm::Error names `destination`.
  void write(const std::filesystem::path& destination,
             const std::function<void(const std::filesystem::path& staged)>& write);

  // Renames every staged file to its destination. A destination that is a
  // folder is a derm::Error before anything is renamed.
  void commit();

 private:
  struct File {
    std::filesystem::path staged;
    std::filesystem::path destination;
  };
  std::vector<File> files_;
};

// Removes the temporaries of `path` that writes cut short by a kill left
// behind. Only for a path no other process is writing at the same time.
void remove_stale_temporaries(const std::filesystem::path& path);

// The file a path names, the same for every way of naming it (links
// resolved; absolute and normalised where it cannot be resolved).
std::filesystem::path file_identity(const std::filesystem::path& path);

// Whole-file read; derm::Error naming the file when it cannot be read.
std::string read_file(const std::filesystem::path& path);

}  // namespace derm
