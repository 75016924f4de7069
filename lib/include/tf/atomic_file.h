// Output files appear complete or not at all: bytes go to a temporary file in
// the target's folder, which commit() flushes and renames into place. A file
// that is destroyed uncommitted (error, exception, BrokenPipe) is removed.
// Every byte also feeds a SHA-256, reported in `model` records.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace tf {

class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n);
  void write_zeros(size_t n);
  uint64_t bytes_written() const { return bytes_; }
  // Flushes, fsyncs, renames into place; returns the hex SHA-256 of the bytes.
  std::string commit();

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }

 private:
  void flush_buffer();
  std::string path_, temp_path_;
  int fd_ = -1;
  uint64_t bytes_ = 0;
  bool committed_ = false;
  struct Hasher;
  std::unique_ptr<Hasher> hasher_;
  std::unique_ptr<uint8_t[]> buffer_;
  size_t buffered_ = 0;
  int slot_ = -1;  // in the signal handler's registry
};

// Installs SIGINT / SIGTERM / SIGHUP handlers that remove the temporary files
// of every AtomicFile still open, then die of the signal as usual. (SIGKILL
// cannot be caught: then a hidden ".<name>.tmp.*" file stays behind, but the
// target path never holds a half-written file.)
void remove_temp_files_on_signals();

// SHA-256 of a file's contents, hex.
std::string sha256_file(const std::string& path);

}  // namespace tf
