#pragma once
// Outputs are never half-written: everything is written to a temporary file in
// the destination folder and renamed into place once complete.
#include <filesystem>
#include <functional>
#include <ostream>
#include <string>

namespace derm {

// Calls write(stream) on a temporary sibling of `path`, flushes, fsyncs and
// renames it to `path`. On any failure the temporary is removed and derm::Error
// names `path`; an existing file at `path` is left untouched.
void write_file_atomically(const std::filesystem::path& path,
                           const std::function<void(std::ostream&)>& write);

// Same, for a producer that writes to a file name (e.g. cv::imwrite, torch::save).
void write_path_atomically(const std::filesystem::path& path,
                           const std::function<void(const std::filesystem::path& tmp)>& write);

// Removes the temporaries of `path` that writes cut short by a kill left
// behind. Only for a path no other process is writing at the same time.
void remove_stale_temporaries(const std::filesystem::path& path);

// Whole-file read; derm::Error naming the file when it cannot be read.
std::string read_file(const std::filesystem::path& path);

}  // namespace derm
